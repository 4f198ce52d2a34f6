#!/usr/bin/python3
"""test_fuzz_smoke — every libFuzzer harness builds and its committed seeds pass.

Runs `scripts/fuzz.sh --replay`: builds the harnesses of tests/fuzz/ into
build-fuzz/ (clang, ASan + UBSan + libFuzzer) and runs each one once over its
committed corpus (tests/fuzz/corpus/NAME/, -runs=0: no mutation), so a parser
change that breaks a harness, or a regression on a bug's reproducer (bug-*
files), fails here. Prints one TAP line per target.

With HC_FUZZ_SMOKE_SECONDS=N it fuzzes each target for N seconds instead.
Without clang or libFuzzer (Debian: clang, libclang-rt-14-dev; see
scripts/deps.sh test) every line is "ok N - # SKIP".
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "scripts", "fuzz.sh")
ROW = re.compile(r"^(\w+)\s+(\d+)\s+(\d+)\s+(ok|FAILED.*)$")


def main():
    targets = subprocess.run([FUZZ, "--list"], capture_output=True, text=True, cwd=ROOT).stdout.split()
    if not targets:
        print("not ok 1 - scripts/fuzz.sh --list names the targets")
        return 1
    print("1..%d" % (len(targets) + 1))
    secs = os.environ.get("HC_FUZZ_SMOKE_SECONDS", "")
    args = ["--seconds", secs] if secs.isdigit() and int(secs) > 0 else ["--replay"]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    # The harnesses set their own sanitizer behaviour; the runner's
    # abort_on_error=0 would turn a finding into a plain exit.
    env.pop("ASAN_OPTIONS", None)
    env.pop("UBSAN_OPTIONS", None)
    try:
        p = subprocess.run([FUZZ] + args, capture_output=True, text=True, errors="replace",
                           cwd=ROOT, env=env, timeout=160)
    except subprocess.TimeoutExpired:
        print("not ok 1 - scripts/fuzz.sh %s finished within 160 s" % " ".join(args))
        return 1
    out = p.stdout + p.stderr
    if p.returncode == 4:
        reason = (p.stderr.strip().splitlines() or ["clang/libFuzzer missing"])[0]
        print("ok 1 - # SKIP %s" % reason)
        for i, t in enumerate(targets, 2):
            print("ok %d - fuzz_%s # SKIP no clang/libFuzzer" % (i, t))
        return 0
    built = p.returncode != 3
    print("%sok 1 - the harnesses build (scripts/fuzz.sh %s)" % ("" if built else "not ", " ".join(args)))
    if not built:
        for line in out.splitlines()[-40:]:
            print("#   " + line)
    rows, details, cur = {}, {}, None
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            cur = m.group(1)
            rows[cur] = (int(m.group(2)), int(m.group(3)), m.group(4))
        elif cur and line.startswith("    "):
            details.setdefault(cur, []).append(line.strip())
    failed = 0 if built else 1
    for i, t in enumerate(targets, 2):
        r = rows.get(t)
        good = r is not None and r[2] == "ok"
        what = ("%d inputs, %d crashes" % (r[0], r[1])) if r else "did not run"
        print("%sok %d - fuzz_%s: %s" % ("" if good else "not ", i, t, what))
        if not good:
            failed += 1
            for line in details.get(t, [])[:30]:
                print("#   " + line)
            if r:
                print("#   full log: build-fuzz/logs/%s.log" % t)
    print("# %d passed, %d failed" % (len(targets) + 1 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
