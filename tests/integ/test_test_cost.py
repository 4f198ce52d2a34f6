#!/usr/bin/python3
"""Cost per pytest test: `report --by test` and `audit --baseline` naming the
test whose cost grew, end to end with a real `python3 -m pytest` under the shim
(Debian's python3-pytest).

The project has three tests: test_steady (1 call), test_grows (1 call, 3 with
GROW=1 in the environment) and, only with NEW=1, test_new (1 call). Each call
costs 8250 nano-USD (gpt-4o-mini, 7 + 12 tokens from the mock).

- baseline run: report --by test shows 1 call each; `audit --json` keeps the
  cost per test (by_test).
- grown run: `audit --baseline <that JSON> --max-increase 10%` fails (exit 1)
  and names test_grows (+200%) and test_new (new), never test_steady, in the
  text, the JSON (tests_grown), the JUnit XML and the Markdown; the same with the
  baseline given as a store; a run that did not grow passes and names nobody.
- pytest's own outcome under the shim is what the project's tests say (2
  passed, 1 skipped; 3 passed with NEW=1): the shim changes no test result.
"""
import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, PYTHON, TAP, World  # noqa: E402

KEY = "sk-test-testcost-0123456789"
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "spend a little"}]})
COST = 8250

PROJECT = textwrap.dedent('''
    import json, os, urllib.request
    import pytest

    def call():
        r = urllib.request.Request("https://api.openai.com/v1/chat/completions", data=%r.encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer %s"})
        return json.load(urllib.request.urlopen(r, timeout=20))["choices"][0]["message"]["content"]

    def test_steady():
        assert call().startswith("Mock answer")

    def test_grows():
        for _ in range(3 if os.environ.get("GROW") else 1):
            assert call().startswith("Mock answer")

    @pytest.mark.skipif(not os.environ.get("NEW"), reason="only in the new run")
    def test_new():
        assert call().startswith("Mock answer")
''' % (BODY, KEY))

STEADY, GROWS, NEW = "test_proj.py::test_steady", "test_proj.py::test_grows", "test_proj.py::test_new"


def analyze(*args):
    return subprocess.run([ANALYZE] + list(args), capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})


def pytest_run(w, d, db, **env):
    return subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_proj.py"], cwd=d,
                          env=w.env(HC_DB=db, **env), capture_output=True, text=True, timeout=180)


def wait_records(db, n):
    import time
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = analyze("requests", "--db", db, "--json", "--limit", "0")
        if r.returncode == 0 and len(json.loads(r.stdout)["requests"]) >= n:
            return True
        time.sleep(0.1)
    return False


def main():
    t = TAP()
    with World() as w:
        d = os.path.join(w.dir, "proj")
        os.makedirs(d)
        with open(os.path.join(d, "test_proj.py"), "w") as f:
            f.write(PROJECT)
        base_db, new_db, same_db = (os.path.join(w.dir, n) for n in ("base", "new", "same"))

        r = pytest_run(w, d, base_db)
        t.ok(r.returncode == 0 and "2 passed, 1 skipped" in r.stdout, "baseline pytest run under the shim: 2 passed",
             r.stdout[-600:] + r.stderr[-600:])
        t.ok(wait_records(base_db, 2), "baseline: 2 records")
        rep = analyze("report", "--db", base_db, "--by", "test", "--json")
        try:
            got = {g["key"]: (g["requests"], g["cost_nusd"]) for g in json.loads(rep.stdout).get("groups", [])}
        except ValueError:
            got = rep.stdout[:300] + rep.stderr[:300]
        t.eq(got, {STEADY: (1, COST), GROWS: (1, COST)}, "report --by test: calls and cost per pytest test")
        txt = analyze("report", "--db", base_db, "--by", "test")
        t.ok(txt.returncode == 0 and STEADY in txt.stdout and GROWS in txt.stdout,
             "report --by test (text) lists each test", txt.stdout[-800:])
        bad = analyze("report", "--db", base_db, "--by", "tests")
        t.ok(bad.returncode == 2 and "test" in bad.stderr and "'tests'" in bad.stderr,
             "report --by tests (a typo): exit 2 naming the choices and the bad value", bad.stderr)

        base_json = os.path.join(w.dir, "base.json")
        a = analyze("audit", "--db", base_db, "--max-cost", "1", "--json")
        with open(base_json, "w") as f:
            f.write(a.stdout)
        try:
            bt = {x["test"]: x["cost_nusd"] for x in json.loads(a.stdout).get("by_test", [])}
        except ValueError:
            bt = a.stdout[:300]
        t.eq(bt, {STEADY: COST, GROWS: COST}, "audit --json keeps the cost per test (by_test)")

        r = pytest_run(w, d, new_db, GROW="1", NEW="1")
        t.ok(r.returncode == 0 and "3 passed" in r.stdout, "grown pytest run under the shim: 3 passed",
             r.stdout[-600:] + r.stderr[-600:])
        t.ok(wait_records(new_db, 5), "grown run: 5 records")
        junit, md = os.path.join(w.dir, "audit.xml"), os.path.join(w.dir, "audit.md")
        a = analyze("audit", "--db", new_db, "--baseline", base_json, "--max-increase", "10%",
                    "--junit", junit, "--markdown", md)
        t.eq(a.returncode, 1, "audit --baseline: the cost grew (+150%%): exit 1")
        out = a.stdout
        t.ok("tests whose cost grew" in out and GROWS in out and NEW in out and STEADY not in out,
             "text: names test_grows and test_new, not test_steady", out)
        aj = analyze("audit", "--db", new_db, "--baseline", base_json, "--max-increase", "10%", "--json")
        try:
            js = json.loads(aj.stdout)
            grown = [(g["test"], g["baseline_cost_nusd"], g["cost_nusd"], g["new"]) for g in js["tests_grown"]]
        except (ValueError, KeyError) as e:
            grown = repr(e) + aj.stdout[:300]
        t.eq(grown, [(GROWS, COST, 3 * COST, False), (NEW, 0, COST, True)],
             "JSON tests_grown: test_grows ($ x3) first, then test_new (new)")
        try:
            msg = [c["message"] for c in js["checks"] if c["name"] == "max-increase"][0]
        except (NameError, KeyError, IndexError, TypeError):
            msg = aj.stdout[:500]
        t.ok("grew most: " + GROWS in msg, "JSON: the failed check's message names the test that grew most", msg)
        try:
            root = ET.parse(junit).getroot()
            inc = [tc for tc in root.iter("testcase") if tc.get("name") == "max-increase"]
            fail = inc[0].find("failure") if inc else None
            ftxt = fail.text if fail is not None else ""
        except (ET.ParseError, OSError) as e:
            ftxt = repr(e)
        t.ok(GROWS in ftxt and NEW in ftxt and STEADY not in ftxt,
             "JUnit: the max-increase failure names the tests whose cost grew", ftxt)
        try:
            mtxt = open(md).read()
        except OSError:
            mtxt = ""
        t.ok("Tests whose cost grew" in mtxt and GROWS.replace("_", "\\_") in mtxt and "❌ FAIL" in mtxt,
             "Markdown: a list of the tests whose cost grew", mtxt)
        st = analyze("audit", "--db", new_db, "--baseline", base_db, "--max-increase", "10%", "--json")
        try:
            names = [g["test"] for g in json.loads(st.stdout)["tests_grown"]]
        except (ValueError, KeyError):
            names = st.stdout[:300] + st.stderr[:300]
        t.eq(names, [GROWS, NEW], "baseline given as a store: the same tests named")

        r = pytest_run(w, d, same_db)
        t.ok(r.returncode == 0 and "2 passed, 1 skipped" in r.stdout, "an unchanged run: same pytest outcome",
             r.stdout[-400:])
        wait_records(same_db, 2)
        a = analyze("audit", "--db", same_db, "--baseline", base_json, "--max-increase", "10%")
        t.ok(a.returncode == 0 and "tests whose cost grew" not in a.stdout,
             "an unchanged run passes and names no test", a.stdout)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
