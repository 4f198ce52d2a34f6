#!/usr/bin/python3
"""hc-analyze users, sessions (list and tree), requests, and `--property K=V` as an
alias of `--where K=V` in every command that takes filters.

On the shared fixture tests/lib/anafix.py (stores from hc_gen, numbers checked
against Python); the other test_analyzer_*.py files cover the other commands.
"""
import csv
import io
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from anafix import *  # noqa: E402,F401,F403 — ok/eq, run…, gen, the independent computations


def tests(tmp, st):
    A, recs, before = st.A, st.recs, st.before  # noqa: F841

    # -- users ------------------------------------------------------------------------------
    rc, uj, _ = run_json("users", "--db", A)
    want = grouped(recs, lambda r: r["user"])
    eq(sorted(u["user"] for u in uj["users"]), sorted(want), "users: one entry per user")
    bad = []
    for u in uj["users"]:
        w = want[u["user"]]
        priced = [r for r in w if not r["cost_flags"] & 2]
        models = {}
        for r in w:
            models[model_of(r)] = models.get(model_of(r), 0) + 1
        exp = {"requests": len(w), "cost_nusd": sum(r["cost_nusd"] for r in w),
               "errors": sum(1 for r in w if is_error(r)), "latency_p95_us": pct([lat(r) for r in w], 95),
               "models": models,
               "first_seen": min(r["start_us"] for r in w), "last_seen": max(r["start_us"] for r in w)}
        got = dict(u)
        got["models"] = {m["model"]: m["requests"] for m in u["models"]}
        got["first_seen"] = exp["first_seen"] if u["first_seen"].startswith(
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(exp["first_seen"] // 10**6))) else u["first_seen"]
        got["last_seen"] = exp["last_seen"] if u["last_seen"].startswith(
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(exp["last_seen"] // 10**6))) else u["last_seen"]
        for k, v in exp.items():
            if got[k] != v:
                bad.append((u["user"], k, got[k], v))
        if priced and abs(u["avg_cost_nusd"] - sum(r["cost_nusd"] for r in priced) / len(priced)) > 1e-6:
            bad.append((u["user"], "avg_cost"))
        if abs(u["latency_avg_us"] - sum(lat(r) for r in w) / len(w)) > 1e-6:
            bad.append((u["user"], "avg latency"))
    ok(not bad, "users: requests, cost, avg cost, avg/p95 latency, errors, models, first/last seen", bad[:5])
    rc, out, _ = run("users", "--db", A, "--csv")
    eq(len(list(csv.DictReader(io.StringIO(out)))), len(want), "users --csv parses")

    # -- sessions ---------------------------------------------------------------------------
    rc, sj, _ = run_json("sessions", "--db", A, "--limit", "0")
    want = grouped([r for r in recs if r["session_id"]], lambda r: r["session_id"])
    eq(sj["count"], len(want), "sessions: count")
    bad = []
    for s in sj["sessions"]:
        w = want[s["session_id"]]
        exp = (len(w), sum(r["cost_nusd"] for r in w), sum(1 for r in w if is_error(r)),
               max(r["start_us"] + lat(r) for r in w) - min(r["start_us"] for r in w))
        got = (s["requests"], s["cost_nusd"], s["errors"], s["duration_us"])
        if got != exp:
            bad.append((s["session_id"], got, exp))
    ok(not bad, "sessions: requests, cost, errors, duration of every session", bad[:3])
    starts = [s["start"] for s in sj["sessions"]]
    ok(starts == sorted(starts, reverse=True), "sessions: newest first")
    # the session with the deepest tree
    sid = max(want, key=lambda k: (len(session_tree(want[k])), k))
    rc, tj, _ = run_json("sessions", "--db", A, sid)
    nodes = {}

    def walk(n):
        nodes[n["path"]] = [n["requests"], n["cost_nusd"], n["latency_us"], n["errors"]]
        kids = sum(c["requests"] for c in n["children"])
        if kids > n["requests"]:
            nodes["!" + n["path"]] = "children exceed parent"
        for c in n["children"]:
            walk(c)

    walk(tj["tree"])
    eq(nodes, session_tree(want[sid]), "sessions %s: tree node totals (children included)" % sid)
    eq(tj["total"]["requests"], len(want[sid]), "sessions ID: total requests")
    rc, out, _ = run("sessions", "--db", A, sid)
    ok(rc == 0 and "├─" in out or "└─" in out, "sessions ID: text tree drawn", out[:400])
    rc, out, _ = run("sessions", "--db", A, sid, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    eq({r["path"]: int(r["requests"]) for r in rows}, {k: v[0] for k, v in session_tree(want[sid]).items()},
       "sessions ID --csv: paths and requests")
    rc, out, err = run("sessions", "--db", A, "no-such-session")
    eq(rc, 1, "sessions: unknown id exits 1")

    # -- requests ---------------------------------------------------------------------------
    newest = sorted(recs, key=lambda r: r["id"], reverse=True)
    rc, rq, _ = run_json("requests", "--db", A, "--limit", "10")
    eq([r["id"] for r in rq["requests"]], [r["id"] for r in newest[:10]], "requests: newest first, --limit 10")
    rc, rq, _ = run_json("requests", "--db", A, "--limit", "0", "--where", "Workflow=support")
    eq(rq["count"], sum(1 for r in recs if r["props"].get("Workflow") == "support"), "requests --limit 0 with --where")
    rc, out, _ = run("requests", "--db", A)
    eq(len(out.splitlines()), 51, "requests: default limit 50 (+ header)")
    rc, out, _ = run("requests", "--db", A, "--csv", "--limit", "0")
    rows = list(csv.DictReader(io.StringIO(out)))
    eq(len(rows), 3000, "requests --csv parses, one row per record")
    eq(rows[0]["id"], newest[0]["id"], "requests --csv: full id, newest first")
    for cols in (80, 100, 120):
        rc, out, _ = run("requests", "--db", A, "--limit", "200", env={"COLUMNS": str(cols)})
        widest = max(len(l) for l in out.splitlines())
        ok(widest <= cols and "…" in out, "requests: COLUMNS=%d fits (%d) and truncates with an ellipsis" % (cols, widest))

    # -- --property K=V: an alias of --where K=V in every command that takes filters -----------
    research = [r for r in recs if r["props"].get("Workflow") == "research"]
    for args in (["requests", "--limit", "0", "--csv"], ["report", "--csv"], ["users", "--csv"],
                 ["sessions", "--limit", "0", "--csv"], ["audit", "--max-requests", "100000", "--csv"],
                 ["export"], ["prices", "--csv"], ["cache", "--csv", "--top", "0"], ["ratelimits", "--csv"]):
        rc1, out1, err1 = run(*args, "--db", A, "--property", "Workflow=research")
        rc2, out2, _ = run(*args, "--db", A, "--where", "Workflow=research")
        rc3, out3, _ = run(*args, "--db", A)
        ok(rc1 == 0 and rc2 == 0 and out1 == out2 and out1 != out3,
           "%s --property Workflow=research: same output as --where, filtered" % args[0], err1 or out1[:300])
    rc, out, err = run("export", "--db", A, "--property=Workflow=research", "--property", "Step=plan")
    want = [r["id"] for r in research if r["props"].get("Step") == "plan"]
    eq((rc, [json.loads(l)["id"] for l in out.splitlines()]), (0, want),
       "export --property=K=V --property K2=V2: both must match (%d records)" % len(want))
    rc, out, err = run("report", "--db", A, "--property", "Workflow")
    one_line_error(rc, err, "report --property without '='", "--property")
    rc, out, err = run("requests", "--db", A, "--property", "=research")
    one_line_error(rc, err, "requests --property with an empty name", "--property")
    # html: --property K=V is the filter, as everywhere; the breakdown is --by-property NAME
    rc, hj, _ = run_json("html", "--db", A, "--property", "Workflow=research")
    eq((rc, hj["filters"], hj["summary"]["requests"]), (0, [["where", "Workflow=research"]], len(research)),
       "html --property K=V filters like --where")
    rc, hj2, _ = run_json("html", "--db", A, "--where", "Workflow=research")
    eq(hj["by_property"]["name"], hj2["by_property"]["name"], "html --property K=V leaves the breakdown at its default")
    rc, hj, _ = run_json("html", "--db", A, "--by-property", "Step", "--property", "Workflow=research")
    eq((rc, hj["by_property"]["name"], hj["summary"]["requests"]), (0, "Step", len(research)),
       "html --by-property NAME --property K=V: breakdown by NAME, filtered by K=V")
    rc, out, err = run("html", "--db", A, "--property", "Step", "--json")
    one_line_error(rc, err, "html --property NAME: refused, it is a filter (K=V) everywhere", "--by-property")
    rc, out, err = run("html", "--db", A, "--by-property", "", "--json")
    one_line_error(rc, err, "html --by-property ''", "--by-property")
    # serve: the same on the command line and as a query parameter
    e = dict(os.environ)
    e.pop("HC_DB", None)
    sp = subprocess.Popen([ANA, "serve", "--db", A, "--port", "0", "--property", "Workflow=research"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    try:
        line = sp.stdout.readline().decode()
        base = line.split("serving on ", 1)[-1].strip().rstrip("/")
        import urllib.request

        def api(path):
            with urllib.request.urlopen(base + path, timeout=30) as resp:
                return json.loads(resp.read())
        eq(api("/api/summary")["summary"]["requests"], len(research), "serve --property K=V filters like --where")
        want = sum(1 for r in research if r["props"].get("Step") == "plan")
        eq(api("/api/summary?property=Step%3Dplan")["summary"]["requests"], want,
           "serve: ?property=K=V is the filter where=K=V, ANDed")
        d = api("/api/dashboard?by_property=Step&limit=1")
        eq((d["by_property"]["name"], d["summary"]["requests"]), ("Step", len(research)),
           "serve: ?by_property=NAME is the breakdown property")
        try:
            api("/api/dashboard?property=Step")
            ok(False, "serve: ?property=NAME (no '=') is a 400 naming by_property")
        except urllib.error.HTTPError as he:
            ok(he.code == 400 and b"by_property" in he.read(), "serve: ?property=NAME (no '=') is a 400 naming "
               "by_property")
    except Exception as ex:  # noqa: BLE001
        ok(False, "serve --property answers", "%r %r" % (ex, sp.stderr.read1(4096) if sp.poll() is not None else ""))
    finally:
        sp.terminate()
        sp.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main(tests))
