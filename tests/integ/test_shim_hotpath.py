#!/usr/bin/python3
"""connect() and getpeername() cost nothing a sandbox or a signal handler would
notice (review of the merged hooks-exact work).

- No process_vm_readv/process_vm_writev on the hot path: under strace, an
  AF_UNIX connect and an AF_INET connect to a non-LLM address make none
  (before: every connect of every preloaded process made one, because the
  default Helicone routes filled the address table).
- A program under a seccomp filter that kills on process_vm_readv/writev
  (systemd SystemCallFilter= without SystemCallErrorNumber=, browser
  sandboxes) survives its plain connects, and a routed LLM connect plus
  getpeername on it still work (the original destination is reported).
- A signal handler that connects while the main thread connects in a loop
  (with LLM addresses in the table, so both look them up) does not deadlock:
  the table is read without a lock (bounded test: 2 s of timer signals).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

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
        binp = os.path.join(w.dir, "hotpath")
        r = subprocess.run([cc, "-O1", "-o", binp, os.path.join(CLIENTS, "hotpath.c")], capture_output=True, text=True)
        if not t.ok(r.returncode == 0, "compile hotpath.c", r.stderr[-500:]):
            return t.done()
        port = str(w.http.port)

        strace = shutil.which("strace")
        if strace:
            log = os.path.join(w.dir, "strace.log")
            r = w.run([strace, "-f", "-o", log, "-e", "trace=process_vm_readv,process_vm_writev,connect",
                       binp, "plain", port], timeout=60)
            with open(log) as f:
                trace = f.read()
            t.ok(r.returncode == 0 and "done" in r.stdout, "plain connects under strace and the shim: exit 0",
                 r.stdout + r.stderr)
            t.ok("AF_UNIX" in trace and "AF_INET" in trace, "strace saw both connects", trace)
            t.ok("process_vm_" not in trace, "no process_vm_readv/writev for an AF_UNIX or a non-LLM AF_INET connect",
                 trace)
        else:
            t.ok(True, "# SKIP strace not installed")

        r = w.run([binp, "seccomp", port], timeout=60)
        if r.returncode == 3:
            t.ok(True, "# SKIP seccomp filters unavailable: " + r.stdout.strip())
        else:
            t.eq(r.returncode, 0, "seccomp filter killing on process_vm_readv: the program survives (exit 0)")
            t.ok("inet connect done" in r.stdout, "its plain AF_UNIX and AF_INET connects ran", r.stdout + r.stderr)
            t.ok("llm connect: 0" in r.stdout, "a routed LLM connect is redirected and succeeds", r.stdout + r.stderr)
            t.ok("llm getpeername: 0 same=1" in r.stdout,
                 "getpeername on it reports the original (synthetic) destination", r.stdout + r.stderr)

        # LLM addresses in the table (HC_HOSTS literals), so every AF_INET connect looks them up.
        hosts = ",".join("10.77.%d.%d:4000" % (i // 200, i % 200 + 1) for i in range(60))
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        closed = str(s.getsockname()[1])  # refused at once: the loop spins fast
        s.close()
        try:
            r = w.run([binp, "signal", closed], timeout=30, HC_HOSTS=hosts)
            ok = r.returncode == 0 and "signal loop done" in r.stdout
            t.ok(ok, "connect in a signal handler while the main thread connects: no deadlock (%s)"
                 % r.stdout.strip(), r.stdout + r.stderr)
        except subprocess.TimeoutExpired:
            t.ok(False, "connect in a signal handler while the main thread connects: no deadlock (hung 30 s)")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
