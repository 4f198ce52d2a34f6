#!/usr/bin/python3
"""hc-analyze audit: every check (--max-cost, --max-requests, --max-error-rate,
--max-p95-ms, --baseline with --max-increase), JUnit and markdown reports, misuse.

On the shared fixture tests/lib/anafix.py (stores from hc_gen, numbers checked
against Python); the other test_analyzer_*.py files cover the other commands.
"""
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from anafix import *  # noqa: E402,F401,F403 — ok/eq, run…, gen, the independent computations


def tests(tmp, st):
    A, recs, before = st.A, st.recs, st.before  # noqa: F841

    # -- audit ------------------------------------------------------------------------------
    total = sum(r["cost_nusd"] for r in recs)
    errors = sum(1 for r in recs if is_error(r))
    p95 = pct([lat(r) for r in recs], 95)
    junit = os.path.join(tmp, "audit.xml")
    md = os.path.join(tmp, "audit.md")
    rc, out, _ = run("audit", "--db", A, "--max-cost", "%.9f" % (total / 1e9 + 1), "--max-requests", 3000,
                     "--max-error-rate", "%.4f%%" % (100.0 * errors / 3000 + 0.01), "--max-p95-ms", p95 // 1000 + 1,
                     "--junit", junit, "--markdown", md)
    ok(rc == 0 and "PASS" in out and "FAIL" not in out, "audit within limits: exit 0", out)
    tree = ET.parse(junit)
    cases = tree.getroot().findall(".//testcase")
    eq(len(cases), 4, "audit --junit: one testcase per check")
    eq(len(tree.getroot().findall(".//failure")), 0, "audit --junit: no failures when passing")
    rc, out, _ = run("audit", "--db", A, "--max-cost", "%.9f" % (total / 1e9 - 0.000000001), "--max-requests", 2999,
                     "--max-error-rate", "%d/%d" % (errors, 3000) if False else "%.6f" % ((errors - 1) / 3000),
                     "--max-p95-ms", p95 // 1000 + 1, "--junit", junit, "--markdown", md)
    eq(rc, 1, "audit over limits: exit 1")
    root = ET.parse(junit).getroot()
    failed = sorted(tc.get("name") for tc in root.findall(".//testcase") if tc.find("failure") is not None)
    eq(failed, ["max-cost", "max-error-rate", "max-requests"], "audit --junit: the failing checks listed")
    eq(root.find("testsuite").get("failures"), "3", "audit --junit: failures attribute")
    with open(md) as f:
        mdt = f.read()
    ok("| Check | Limit | Actual | Result |" in mdt and "❌ FAIL" in mdt and "max-p95-ms" in mdt, "audit --markdown: table written", mdt[-600:])
    # --max-p95-ms alone: fails one ms under the exact p95, passes at it (rounded up)
    rc, out, _ = run("audit", "--db", A, "--max-p95-ms", (p95 - 1) // 1000, "--junit", junit)
    ok(rc == 1 and "FAIL" in out, "audit --max-p95-ms %d under p95 %d us: exit 1" % ((p95 - 1) // 1000, p95), out)
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    eq(([tc.get("name") for tc in cases], root.find("testsuite").get("failures")), (["max-p95-ms"], "1"),
       "audit --junit: the failing p95 check listed as a failure")
    fail = cases[0].find("failure") if cases else None
    ok(fail is not None and "p95" in (fail.get("message") or "") + (fail.text or ""),
       "audit --junit: the p95 failure says why", ET.tostring(root)[:600])
    rc, aj, _ = run_json("audit", "--db", A, "--max-p95-ms", (p95 - 1) // 1000)
    eq((rc, aj["verdict"], aj["failed"], aj["checks"][0]["pass"], aj["checks"][0]["actual"]),
       (1, "fail", 1, False, p95 / 1000), "audit --json: p95 check fails with the exact p95 in ms")
    rc, aj, _ = run_json("audit", "--db", A, "--max-p95-ms", -(-p95 // 1000))
    eq((rc, aj["checks"][0]["pass"]), (0, True), "audit --max-p95-ms at the p95 rounded up passes")
    rc, aj, _ = run_json("audit", "--db", A, "--max-cost", "%.9f" % (total / 1e9))
    eq((rc, aj["verdict"], aj["checks"][0]["pass"]), (0, "pass", True), "audit: cost exactly at the limit passes")
    check_summary(aj["summary"], recs, "audit --json")
    # baseline from a report --json file and from another store
    basefile = os.path.join(tmp, "base.json")
    with open(basefile, "w") as f:
        f.write(run("report", "--db", A, "--json")[1])
    rc, out, _ = run("audit", "--db", A, "--baseline", basefile, "--max-increase", "0%")
    eq(rc, 0, "audit --baseline report.json: same cost passes --max-increase 0%")
    B = os.path.join(tmp, "b")
    gen(B, "--count", 2000, "--seed", 7, "--json-out", B + ".jsonl")
    base = sum(r["cost_nusd"] for r in load(B + ".jsonl"))
    inc = (total - base) / base
    rc, aj, _ = run_json("audit", "--db", A, "--baseline", B, "--max-increase", "%.6f" % (inc - 0.001))
    eq((rc, aj["checks"][0]["pass"]), (1, False), "audit --baseline STORE: increase %.1f%% over limit fails" % (inc * 100))
    ok(abs(aj["checks"][0]["actual"] - inc) < 1e-9, "audit --baseline: increase computed exactly")
    rc, aj, _ = run_json("audit", "--db", A, "--baseline", B, "--max-increase", "%.6f" % (inc + 0.001))
    eq(rc, 0, "audit --baseline STORE: within the allowed increase passes")
    rc, aj, _ = run_json("audit", "--db", B, "--baseline", basefile, "--max-increase", "0")
    eq(rc, 0, "audit: a cheaper run than the baseline passes")
    # hostile store path in JUnit / markdown
    H = os.path.join(tmp, 'h&<"x">')
    gen(H, "--count", 300, "--seed", 3, "--with-bodies", "--hostile", "--json-out", os.path.join(tmp, "h.jsonl"))
    hrecs = load(os.path.join(tmp, "h.jsonl"))
    rc, out, _ = run("audit", "--db", H, "--max-requests", 1, "--junit", junit)
    root = ET.parse(junit).getroot()
    eq((rc, root.find(".//property").get("value")), (1, H), "audit --junit: markup in the store path escaped")
    for args, needle in ((["--max-increase", "10%"], "--max-increase"), (["--baseline", basefile], "--baseline"),
                         ([], "no check"), (["--max-error-rate", "lots"], "--max-error-rate"),
                         (["--max-cost", "two"], "--max-cost"), (["--max-requests", "-1"], "--max-requests"),
                         (["--max-cost", "1", "--baseline", os.path.join(tmp, "nope.json"), "--max-increase", "1%"],
                          "nope.json")):
        rc, out, err = run("audit", "--db", A, *args)
        one_line_error(rc, err, "audit %s" % " ".join(args), needle)
    rc, out, err = run("audit", "--db", os.path.join(tmp, "missing"), "--max-cost", "1")
    one_line_error(rc, err, "audit on a missing store", "missing")


if __name__ == "__main__":
    sys.exit(main(tests))
