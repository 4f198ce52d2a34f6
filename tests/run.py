#!/usr/bin/python3
"""Test runner for hcshim: every test is a program that prints TAP lines.

Runs, each in its own process group with a timeout:
  unit    build/tests/test_*            (C, one binary per module; also from the ASan build)
  integ   tests/integ/test_*.py         (real clients under the shim against the local mock)

Prints one line per test file and, last, "N passed, N failed" (N = TAP
assertions). Exits 1 if anything failed, timed out or crashed.

With --isolate (the default when possible) the integration tests run in a new
network namespace that has only a loopback interface, so no test can reach the
internet even by mistake.

With --asan-build DIR, the unit tests of DIR run too, and every integration
test that exercises the shim runs a second time with DIR's ASan+UBSan build of
libhcshim.so/libhcshim-core.so preloaded (after the sanitizer runtime) into
the real clients; any sanitizer report fails that test.
"""
import argparse
import glob
import tempfile
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP_OK = re.compile(r"^ok \d+")
# Integration tests re-run with the ASan+UBSan shim preloaded into their clients.
# Only tests whose clients are Python: Debian's curl deadlocks in setlocale()
# as soon as libasan is preloaded into it, with or without the shim. The
# gateway's sanitizer coverage comes mainly from tests/unit/test_core_gateway.c,
# which runs the core in-process under ASan, UBSan and TSan.
SHIM_TESTS = re.compile(r"test_gateway_(providers|failopen)")
TAP_NOT_OK = re.compile(r"^not ok \d+")


def can_isolate():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return False
    r = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"],
                       capture_output=True)
    return r.returncode == 0


def file_timeout(path):
    """A test file may ask for a longer timeout with a line "# run.py timeout: SECONDS"
    (the compatibility matrix runs whole agent CLIs and JVMs)."""
    if not path.endswith(".py"):
        return 0
    with open(path, errors="replace") as f:
        m = re.search(r"^# run\.py timeout: (\d+)$", f.read(), re.M)
    return int(m.group(1)) if m else 0


def run_one(cmd, env, timeout, isolate, verbose):
    if isolate:
        cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + cmd
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, cwd=ROOT, start_new_session=True, text=True,
                         errors="replace")
    try:
        out, _ = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        timed_out = True
    else:
        # Reap anything the test left behind in its group.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    dt = time.monotonic() - t0
    passed = failed = 0
    for line in out.splitlines():
        if TAP_OK.match(line):
            passed += 1
        elif TAP_NOT_OK.match(line):
            failed += 1
    problem = None
    if timed_out:
        problem = "timed out after %ds" % timeout
    elif p.returncode != 0 and failed == 0:
        problem = "exit status %d with no failing assertion" % p.returncode
    elif passed + failed == 0:
        problem = "no assertions"
    if problem:
        failed += 1
    return passed, failed, problem, out, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--asan-build", default=None)
    ap.add_argument("--tsan-build", default=None)
    ap.add_argument("--only", choices=["unit", "integ"], default=None)
    ap.add_argument("--timeout", type=int, default=180)
    ap.add_argument("--no-isolate", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("patterns", nargs="*", help="substrings selecting test files")
    a = ap.parse_args()

    build = os.path.abspath(os.path.join(ROOT, a.build))
    jobs = []
    if a.only in (None, "unit"):
        for b in sorted(glob.glob(os.path.join(build, "tests", "test_*"))):
            if not b.endswith(".d") and os.access(b, os.X_OK):
                jobs.append(("unit", [b], False))
        if a.asan_build:
            ab = os.path.abspath(os.path.join(ROOT, a.asan_build))
            for b in sorted(glob.glob(os.path.join(ab, "tests", "test_*"))):
                if not b.endswith(".d") and os.access(b, os.X_OK):
                    jobs.append(("asan", [b], False))
        if a.tsan_build:
            tb = os.path.abspath(os.path.join(ROOT, a.tsan_build))
            for b in sorted(glob.glob(os.path.join(tb, "tests", "test_*"))):
                if not b.endswith(".d") and os.access(b, os.X_OK):
                    jobs.append(("tsan", [b], False))
    isolate = not a.no_isolate and can_isolate()
    if a.only in (None, "integ"):
        for t in sorted(glob.glob(os.path.join(ROOT, "tests", "integ", "test_*.py"))):
            jobs.append(("integ", ["/usr/bin/python3", t], isolate))
    if a.asan_build and a.only in (None, "integ") and os.path.exists(
            os.path.join(ROOT, a.asan_build, "libhcshim-core.so")):
        for t in sorted(glob.glob(os.path.join(ROOT, "tests", "integ", "test_*.py"))):
            if SHIM_TESTS.search(os.path.basename(t)):
                jobs.append(("asan", ["/usr/bin/python3", t], isolate))
    if a.patterns:
        jobs = [j for j in jobs if any(p in j[1][-1] for p in a.patterns)]

    env = dict(os.environ)
    env["HC_BUILD"] = build
    if a.asan_build:
        env["HC_ASAN_BUILD"] = os.path.abspath(os.path.join(ROOT, a.asan_build))
    env.pop("LD_PRELOAD", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:halt_on_error=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    supp = os.path.join(ROOT, "tests", "unit", "tsan.supp")
    env["TSAN_OPTIONS"] = "halt_on_error=1:second_deadlock_stack=1" + (":suppressions=" + supp if os.path.exists(supp) else "")

    total_p = total_f = 0
    failures = []
    print("# network isolation: %s" % ("on (loopback-only namespace)" if isolate else "off"))
    asan_rt = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    for kind, cmd, iso in jobs:
        name = os.path.relpath(cmd[-1], ROOT)
        jenv = env
        logdir = None
        if kind == "asan" and cmd[0] == "/usr/bin/python3":
            logdir = tempfile.mkdtemp(prefix="hc-asan-")
            jenv = dict(env, HC_BUILD=os.path.abspath(os.path.join(ROOT, a.asan_build)), HC_PRELOAD_FIRST=asan_rt,
                        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=%s/asan" % logdir,
                        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=%s/ubsan" % logdir)
        p, f, problem, out, dt = run_one(cmd, jenv, max(a.timeout, file_timeout(cmd[-1])), iso, a.verbose)
        if logdir:
            reports = sorted(glob.glob(os.path.join(logdir, "*")))
            if reports:
                f += 1
                problem = "sanitizer reports: %d" % len(reports)
                for rp in reports[:3]:
                    out += "\n# ---- %s\n" % rp + "".join("# " + l for l in open(rp, errors="replace").readlines()[:60])
            shutil.rmtree(logdir, ignore_errors=True)
        total_p += p
        total_f += f
        status = "ok  " if f == 0 else "FAIL"
        print("%s %-5s %-48s %4d passed %3d failed  %6.1fs%s" %
              (status, kind, name, p, f, dt, ("  (" + problem + ")") if problem else ""))
        if f or a.verbose:
            failures.append((name, out))
        sys.stdout.flush()
    for name, out in failures:
        print("\n----- %s -----" % name)
        lines = out.splitlines()
        if a.verbose:
            print("\n".join(lines[-400:]))
            continue
        # Only the failing assertions with their diagnostics; the tail if the
        # program died without a failing assertion (a crash, a traceback).
        shown, keep = [], False
        for line in lines:
            if TAP_NOT_OK.match(line):
                keep = True
            elif TAP_OK.match(line) or line.startswith("1.."):
                keep = False
            if keep:
                shown.append(line)
        if not any(TAP_NOT_OK.match(l) for l in lines):
            shown = lines[-60:]
        print("\n".join(shown[-300:]))
    print("%d passed, %d failed" % (total_p, total_f))
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
