#!/usr/bin/python3
"""make demo (scripts/demo.sh): runs end to end, keeps its store, shows what
it ran and where to go next, and fits 100 columns."""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import BUILD, ROOT, TAP  # noqa: E402


def main():
    t = TAP()
    d = tempfile.mkdtemp(prefix="hctest-demo-")
    try:
        db = os.path.join(d, "store")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HC_") and k != "LD_PRELOAD"}
        env.update({"HC_DEMO_DB": db, "HC_BUILD": BUILD, "TMPDIR": d})
        r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "demo.sh")], capture_output=True, text=True,
                           env=env, timeout=120)
        out = r.stdout + r.stderr
        t.eq(r.returncode, 0, "the demo runs")
        wide = [x for x in out.splitlines() if len(x) > 100]
        t.ok(not wide, "every line fits 100 columns", wide)
        t.ok(os.path.exists(os.path.join(db, "data.mdb")), "the store is kept")
        t.ok(out.count("$ scripts/hc-run") >= 2, "the hc-run commands it ran are printed", out[:2000])
        t.ok("$ build/hc-analyze requests" in out.replace(os.path.relpath(BUILD, ROOT), "build")
             and "hc-analyze report" in out, "the analyzer commands are printed")
        t.ok("research-agent" in out and "summarize" in out, "the report shows both steps of the workflow")
        steps = [x.strip() for x in out.splitlines()[-3:]]
        t.ok(len(steps) == 3 and [s.split()[1] for s in steps] == ["html", "serve", "audit"],
             "three next steps: html, serve, audit", steps)
        audit = shlex.split(steps[2].split("#")[0]) if len(steps) == 3 else []
        if audit:
            a = subprocess.run(audit, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
            rep = subprocess.run([os.path.join(BUILD, "hc-analyze"), "report", "--db", db, "--run", "last", "--json"],
                                 capture_output=True, text=True, env=env, timeout=60)
            n = json.loads(rep.stdout)["summary"]["requests"] if rep.returncode == 0 else -1
            t.ok(a.returncode == 0 and "run demo-" in a.stdout and "(%d requests)" % n in a.stdout and n >= 4,
                 "the audit step works as printed, on the demo's run (every step's requests)", a.stdout + a.stderr)
        else:
            t.ok(False, "the audit step works as printed")
        left = [n for n in os.listdir(d) if n.startswith("hcshim-demo.")]
        t.eq(left, [], "its temporary directory (test CA, notes) is removed")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
