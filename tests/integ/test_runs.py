#!/usr/bin/python3
"""Runs: every record carries the run id of the command tree that made it.

hc-run sets HC_RUN_ID (--run-id, else one it makes up) and prints it; a bare
LD_PRELOAD tree gets one id from its top process, inherited by children. The
read commands select a run with --run last|ID; audit --baseline refuses a
baseline selected differently. Old records (no run id) still read. Real
clients (curl, python3 urllib) against the mock provider.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, PYTHON, ROOT, SHIM, TAP, World  # noqa: E402

HC_RUN = os.path.join(ROOT, "scripts", "hc-run")
BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
CURL = ["curl", "-sS", "https://api.openai.com/v1/chat/completions", "-H", "Authorization: Bearer k", "-d", BODY]
RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")


def analyze(*args, env=None):
    e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
    return subprocess.run([ANALYZE] + list(args), capture_output=True, text=True, env=e, timeout=60)


def main():
    t = TAP()
    with World(http_mock=False) as w:
        # 1. A bare LD_PRELOAD tree: sh runs curl twice and python once; one id.
        r = w.run(["sh", "-c", " ".join("'%s'" % a for a in CURL) + " >/dev/null && "
                   + " ".join("'%s'" % a for a in CURL) + " >/dev/null && "
                   + PYTHON + " -c 'import os; print(os.environ[\"HC_RUN_ID\"])'"])
        t.eq(r.returncode, 0, "a bare LD_PRELOAD tree runs (sh, curl, python)")
        tree_id = r.stdout.strip()
        t.ok(RUN_ID.match(tree_id), "the top process made a run id YYYYMMDD-HHMMSS-xxxxxx", tree_id)
        recs = w.records(wait_for=2)
        t.ok(len(recs) == 2 and all(x["run_id"] == tree_id for x in recs),
             "both curl children recorded the top process's run id", [x.get("run_id") for x in recs])

        # Without the shim the program sees no HC_RUN_ID (the shim adds it only under itself).
        e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
        r0 = subprocess.run(["sh", "-c", 'echo "${HC_RUN_ID:-none}"'], capture_output=True, text=True, env=e)
        t.eq(r0.stdout.strip(), "none", "no run id without the shim")

        # 2. A second bare run: a new id.
        r = w.run(CURL)
        recs = w.records(wait_for=3)
        second = recs[-1]["run_id"] if len(recs) == 3 else ""
        t.ok(RUN_ID.match(second) and second != tree_id, "a second tree gets a new run id", (second, tree_id))

        # 3. hc-run: --run-id is kept, printed on stderr, inherited.
        e = w.env()
        for k in list(e):
            if k.startswith("HC_") or k == "LD_PRELOAD":
                del e[k]
        e["HC_LIB"] = SHIM
        base = [HC_RUN, "--db", w.db, "--route", "api.openai.com=" + w.mock.url, "--ca-file", w.pki["ca"]]
        r = subprocess.run(base + ["--run-id", "ci-42", "--", "sh", "-c",
                                   " ".join("'%s'" % a for a in CURL) + " && " + " ".join("'%s'" % a for a in CURL)],
                           capture_output=True, text=True, env=e, timeout=60)
        t.ok(r.returncode == 0 and "Mock answer" in r.stdout, "hc-run --run-id ci-42 runs the tree", r.stderr)
        t.ok("run ci-42" in r.stderr and "--run ci-42" in r.stderr, "hc-run prints the run id and how to see it",
             r.stderr)
        recs = w.records(wait_for=5)
        t.eq([x["run_id"] for x in recs[3:]], ["ci-42", "ci-42"], "both requests of the hc-run tree carry ci-42")
        r = subprocess.run(base + ["--", PYTHON, "-c", "import os; print(os.environ['HC_RUN_ID'])"],
                           capture_output=True, text=True, env=e, timeout=60)
        made = r.stdout.strip()
        t.ok(RUN_ID.match(made) and ("run " + made) in r.stderr, "hc-run makes up and prints an id", r.stderr)
        r = subprocess.run(base + ["-q", "--", "true"], capture_output=True, text=True, env=e, timeout=60)
        t.eq(r.stderr, "", "hc-run -q prints nothing")
        for bad in ["", "a b", "x" * 65, "ü"]:
            r = subprocess.run(base + ["--run-id", bad, "--", "true"], capture_output=True, text=True, env=e)
            t.ok(r.returncode == 2 and "--run-id" in r.stderr and r.stderr.count("\n") == 1,
                 "--run-id %r: exit 2 with one line" % bad, r.stderr)

        # 4. --run selects: last = ci-42 (the newest record with a run id: the
        # python run made no call), ID selects exactly.
        rep = json.loads(analyze("report", "--db", w.db, "--run", "last", "--json").stdout)
        t.ok(rep["summary"]["requests"] == 2 and rep["run"] == "ci-42", "report --run last: the newest run, 2 requests",
             (rep["summary"]["requests"], rep.get("run")))
        rep = json.loads(analyze("report", "--db", w.db, "--run", tree_id, "--json").stdout)
        t.eq(rep["summary"]["requests"], 2, "report --run ID: that run's 2 requests")
        for cmd in (["requests"], ["export"]):
            r = analyze(*cmd, "--db", w.db, "--run", second, "--json")
            t.ok(r.returncode == 0 and r.stdout.count(second) >= 1 and "ci-42" not in r.stdout,
                 "%s --run ID: that run's records only" % cmd[0], r.stderr[-300:])
        for cmd in (["users"], ["ratelimits"], ["cache"], ["html", "-o", os.path.join(w.dir, "p.html")]):
            one = analyze(*cmd, "--db", w.db, "--run", second, "--json")
            none = analyze(*cmd, "--db", w.db, "--run", "nope", "--json")
            t.ok(one.returncode == 0 and none.returncode == 0 and one.stdout + one.stderr != none.stdout + none.stderr,
                 "%s --run ID takes the shared filter" % cmd[0], one.stderr[-300:] + none.stderr[-300:])
        # serve: --run on its command line and ?run= as a parameter (last resolved per request).
        e2 = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
        sp = subprocess.Popen([ANALYZE, "serve", "--db", w.db, "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=e2)
        try:
            import urllib.request
            base = sp.stdout.readline().decode().split("serving on ", 1)[-1].strip().rstrip("/")

            def api(path):
                with urllib.request.urlopen(base + path, timeout=30) as resp:
                    return json.loads(resp.read())
            got = (api("/api/summary?run=last")["summary"]["requests"],
                   api("/api/summary?run=" + tree_id)["summary"]["requests"],
                   api("/api/dashboard?run=last&limit=5")["summary"]["requests"],
                   api("/api/summary")["summary"]["requests"])
            t.eq(got, (2, 2, 2, 5), "serve: ?run=last and ?run=ID select one run (the whole store has 5)")
        except Exception as ex:  # noqa: BLE001
            t.ok(False, "serve ?run=", repr(ex))
        finally:
            sp.terminate()
            sp.wait(timeout=10)
        sp = subprocess.Popen([ANALYZE, "serve", "--db", w.db, "--port", "0", "--run", "last"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e2)
        try:
            base = sp.stdout.readline().decode().split("serving on ", 1)[-1].strip().rstrip("/")
            t.eq(api("/api/summary")["summary"]["requests"], 2, "serve --run last: the last run")
        except Exception as ex:  # noqa: BLE001
            t.ok(False, "serve --run last", repr(ex))
        finally:
            sp.terminate()
            sp.wait(timeout=10)
        r = analyze("sessions", "--db", w.db, "--run", second)
        t.eq(r.returncode, 0, "sessions --run ID runs")
        r = analyze("requests", "--db", w.db, "--run", "nope")
        t.ok(r.returncode == 0 and "ci-42" not in r.stdout, "an unknown run id matches nothing")
        r = analyze("audit", "--db", w.db, "--run", "last", "--max-requests", "2")
        t.ok(r.returncode == 0 and "run ci-42" in r.stdout, "audit --run last passes on the run's 2 requests", r.stdout)
        r = analyze("audit", "--db", w.db, "--max-requests", "2")
        t.eq(r.returncode, 1, "the same audit over the whole store (5 requests) fails")
        r = analyze("report", "--db", w.db, "--run", "")
        t.ok(r.returncode == 2 and "--run" in r.stderr, "--run '': exit 2 naming it", r.stderr)

        # 5. Baseline selected like this audit, or refused / warned.
        d = w.dir
        whole = os.path.join(d, "whole.json")
        with open(whole, "w") as f:
            f.write(analyze("report", "--db", w.db, "--json").stdout)
        r = analyze("audit", "--db", w.db, "--run", "last", "--baseline", whole, "--max-increase", "10%")
        t.ok(r.returncode == 2 and "compare like with like" in r.stderr and "run=ONE" in r.stderr,
             "a run audited against a whole-store baseline is refused (exit 2)", r.stderr)
        prev = os.path.join(d, "prev.json")
        with open(prev, "w") as f:
            f.write(analyze("audit", "--db", w.db, "--run", tree_id, "--max-requests", "9", "--json").stdout)
        r = analyze("audit", "--db", w.db, "--run", "last", "--baseline", prev, "--max-increase", "10%")
        t.ok(r.returncode in (0, 1) and "like with like" not in r.stderr,
             "a run against a previous run's audit JSON is compared", r.stderr)
        old = os.path.join(d, "old.json")
        doc = json.load(open(whole))
        del doc["selection"]
        json.dump(doc, open(old, "w"))
        r = analyze("audit", "--db", w.db, "--run", "last", "--baseline", old, "--max-increase", "10%")
        t.ok(r.returncode in (0, 1) and "does not say how its records were selected" in r.stderr,
             "a baseline JSON without a selection: compared, with a warning", r.stderr)

        # 6. export/import carry the run id; records without one still read.
        jl = analyze("export", "--db", w.db).stdout
        lines = [json.loads(x) for x in jl.splitlines() if x.strip()]
        t.ok(len(lines) == 5 and lines[-1]["run_id"] == "ci-42", "export writes run_id", len(lines))
        csvout = analyze("export", "--db", w.db, "--csv").stdout
        t.ok(csvout.splitlines()[0].endswith(",run_id") and csvout.count(",ci-42") == 2, "export --csv: a run_id column")
        otlp = analyze("export", "--db", w.db, "--format", "otlp").stdout
        t.eq(otlp.count('"hcshim.run_id"'), 5, "export --format otlp: hcshim.run_id on every span")
        copy = os.path.join(d, "copy")
        p = subprocess.run([ANALYZE, "import", "--db", copy, "-"], input=jl, capture_output=True, text=True)
        rep = json.loads(analyze("report", "--db", copy, "--run", "ci-42", "--json").stdout)
        t.ok(p.returncode == 0 and rep["summary"]["requests"] == 2, "import keeps run_id (--run ci-42 finds 2)",
             p.stderr)
        for x in lines:
            x.pop("run_id", None)
        oldstore = os.path.join(d, "old")
        p = subprocess.run([ANALYZE, "import", "--db", oldstore, "-"], input="\n".join(json.dumps(x) for x in lines),
                           capture_output=True, text=True)
        r = analyze("report", "--db", oldstore, "--json")
        t.ok(p.returncode == 0 and json.loads(r.stdout)["summary"]["requests"] == 5,
             "records without a run id read as before")
        r = analyze("report", "--db", oldstore, "--run", "last", "--json")
        t.ok(r.returncode == 0 and json.loads(r.stdout)["summary"]["requests"] == 0
             and "no record in this store has a run id" in r.stderr,
             "--run last over records without run ids: nothing, and a warning saying why", r.stderr)

        # prune --run: one run's records go, the others stay.
        r = analyze("prune", "--db", copy, "--run", "last", "--dry-run", "--json")
        t.ok(r.returncode == 0 and json.loads(r.stdout)["records_removed"] == 2, "prune --run last --dry-run: the "
             "last run's 2 records", r.stdout + r.stderr)
        r = analyze("prune", "--db", copy, "--run", "last", "--json")
        left = json.loads(analyze("report", "--db", copy, "--json").stdout)["summary"]["requests"]
        t.ok(r.returncode == 0 and json.loads(r.stdout)["records_removed"] == 2 and left == 3,
             "prune --run last deletes that run only", (r.stdout, left))
        r = analyze("prune", "--db", oldstore, "--run", "last")
        t.ok(r.returncode == 2 and "no record in this store has a run id" in r.stderr,
             "prune --run last with no run ids: exit 2, nothing deleted", r.stderr)

        # 7. Contradictory or out-of-range options exit 2.
        for args, what in [(["report", "--json", "--csv"], "--json and --csv"),
                           (["audit", "--max-error-rate", "150%"], "--max-error-rate"),
                           (["audit", "--max-error-rate", "1.5"], "--max-error-rate")]:
            r = analyze(*args, "--db", w.db)
            t.ok(r.returncode == 2 and what in r.stderr and r.stderr.count("\n") == 1,
                 "%s: exit 2 naming it" % " ".join(args), r.stderr)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
