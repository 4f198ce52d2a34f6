#!/usr/bin/python3
"""hc-analyze report: totals, every breakdown (--by), every filter, answers without usage,
the trend buckets, text and CSV.

On the shared fixture tests/lib/anafix.py (stores from hc_gen, numbers checked
against Python); the other test_analyzer_*.py files cover the other commands.
"""
import csv
import io
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from anafix import *  # noqa: E402,F401,F403 — ok/eq, run…, gen, the independent computations


def tests(tmp, st):
    A, recs, before = st.A, st.recs, st.before  # noqa: F841

    # -- report: totals, breakdowns, filters, trend ------------------------------------------
    rc, rep, _ = run_json("report", "--db", A)
    eq(rc, 0, "report exits 0")
    check_summary(rep["summary"], recs, "report")
    eq(rep["records_scanned"], 3000, "report: records scanned")
    eq(rep["undecodable"], 0, "report: nothing undecodable")

    def check_groups(groups, recs_, key, label):
        want = grouped(recs_, key)
        eq(sorted(g["key"] for g in groups), sorted(want), "%s: group keys" % label)
        bad = []
        for g in groups:
            w = want.get(g["key"], [])
            lats = [lat(r) for r in w]
            exp = {"requests": len(w), "tok_in": sum(r["tok_in"] for r in w),
                   "tok_out": sum(r["tok_out"] for r in w), "cost_nusd": sum(r["cost_nusd"] for r in w),
                   "unpriced_requests": sum(1 for r in w if r["cost_flags"] & 2),
                   "errors": sum(1 for r in w if is_error(r)),
                   "latency_p50_us": pct(lats, 50), "latency_p95_us": pct(lats, 95)}
            for k, v in exp.items():
                if g[k] != v:
                    bad.append((g["key"], k, g[k], v))
        ok(not bad, "%s: every group's requests/tokens/cost/p50/p95/errors" % label, bad[:5])
        costs = [g["cost_nusd"] for g in groups]
        ok(costs == sorted(costs, reverse=True), "%s: groups ordered by cost" % label)

    check_groups(rep["groups"], recs, model_of, "report --by model")
    eq(rep["by"], ["model"], "report: default breakdown is by model")

    rc, rep2, _ = run_json("report", "--db", A, "--by", "property:Workflow", "--by", "property:Step")
    check_groups(rep2["groups"], recs, lambda r: r["props"].get("Workflow", ""), "report --by property:Workflow")
    bad = []
    for g in rep2["groups"]:
        sub = [r for r in recs if r["props"].get("Workflow", "") == g["key"]]
        want = grouped(sub, lambda r: r["props"].get("Step", ""))
        got = {c["key"]: (c["requests"], c["cost_nusd"]) for c in g["groups"]}
        exp = {k: (len(v), sum(r["cost_nusd"] for r in v)) for k, v in want.items()}
        if got != exp:
            bad.append((g["key"], got, exp))
        if sum(c["requests"] for c in g["groups"]) != g["requests"]:
            bad.append((g["key"], "children do not add up"))
    ok(not bad, "report --by Workflow --by Step: nested groups match and add up", bad[:3])

    for by, key in (("provider", lambda r: r["provider"]), ("user", lambda r: r["user"]),
                    ("status", lambda r: str(r["status"])), ("program", lambda r: r["program"])):
        rc, rj, _ = run_json("report", "--db", A, "--by", by)
        check_groups(rj["groups"], recs, key, "report --by %s" % by)

    t0 = recs[0]["start_us"]
    since_us = t0 + 5 * 86400 * 10**6
    until_us = t0 + 15 * 86400 * 10**6
    filters = [
        (["--where", "Workflow=research"], lambda r: r["props"].get("Workflow") == "research"),
        (["--property", "Workflow=research"], lambda r: r["props"].get("Workflow") == "research"),
        (["--where", "Workflow=research", "--where", "Step=plan"],
         lambda r: r["props"].get("Workflow") == "research" and r["props"].get("Step") == "plan"),
        (["--model", "gpt-4o*"], lambda r: r["model_req"].startswith("gpt-4o") or r["model_resp"].startswith("gpt-4o")),
        (["--model", "gpt-4o"], lambda r: "gpt-4o" in (r["model_req"], r["model_resp"])),
        (["--user", "user-03"], lambda r: r["user"] == "user-03"),
        (["--provider", "anthropic"], lambda r: r["provider"] == "anthropic"),
        (["--status", "5xx"], lambda r: 500 <= r["status"] <= 599),
        (["--status", "429"], lambda r: r["status"] == 429),
        (["--status", "error"], is_error),
        (["--status", "200", "--status", "4xx"], lambda r: r["status"] == 200 or 400 <= r["status"] <= 499),
        (["--cache", "hit"], lambda r: bool(r["flags"] & 2)),
        (["--cache", "miss"], lambda r: not r["flags"] & 2),
        (["--session", recs[5]["session_id"] or "none"], lambda r: r["session_id"] == (recs[5]["session_id"] or "none")),
        (["--since", str(since_us // 10**6), "--until", str(until_us // 10**6)],
         lambda r: since_us // 10**6 * 10**6 <= r["start_us"] < until_us // 10**6 * 10**6),
        (["--since", "2026-10-05", "--until", "2026-10-06T12:00"],
         lambda r: 1791158400 * 10**6 <= r["start_us"] < 1791288000 * 10**6),
    ]
    for args, pred in filters:
        rc, rj, _ = run_json("report", "--db", A, *args)
        sub = [r for r in recs if pred(r)]
        got = (rj["summary"]["requests"], rj["summary"]["cost_nusd"], rj["summary"]["latency_us"]["p95"])
        want = (len(sub), sum(r["cost_nusd"] for r in sub), pct([lat(r) for r in sub], 95))
        eq(got, want, "report %s: requests, cost, p95 (%d records)" % (" ".join(args), len(sub)))

    # answers without usage: a store with known contents, A's records with some changed
    nu_recs = []
    for i, r in enumerate(recs[:900]):
        r = dict(r)
        if r["status"] == 200 and not r["flags"] & 2 and i % 5 == 0:  # 2xx, no usage: cost unknown
            r.update(cost_flags=8, cost_nusd=0, tok_in=0, tok_out=0, tok_cached=0, model_resp="")
        elif i % 11 == 0:  # an error without usage: costs nothing, is priced at $0
            r.update(status=503, cost_flags=8, cost_nusd=0, tok_in=0, tok_out=0, tok_cached=0)
        elif i % 13 == 0:  # a cache hit without usage: costs nothing
            r.update(status=200, flags=r["flags"] | 2, cost_flags=8, cost_nusd=0)
        elif i % 17 == 0:  # unpriced and without usage: unpriced, counted once
            r.update(status=200, flags=r["flags"] & ~2, cost_flags=2 | 8, cost_nusd=0)
        nu_recs.append(r)
    NU = os.path.join(tmp, "nousage")
    with open(NU + ".jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in nu_recs)
    rc, out, err = run("import", "--db", NU, NU + ".jsonl")
    eq(rc, 0, "import of records without usage")
    rc, nj, _ = run_json("report", "--db", NU)
    n_nu = sum(1 for r in nu_recs if no_usage(r))
    ok(n_nu > 50 and nj["summary"]["no_usage_requests"] == n_nu,
       "report --json: no_usage_requests = %d (2xx, not cache hits, not unpriced)" % n_nu, nj["summary"])
    check_summary(nj["summary"], nu_recs, "report --json, answers without usage")
    for args, pred in ((["--status", "200"], lambda r: r["status"] == 200), (["--provider", "openai"],
                       lambda r: r["provider"] == "openai"), (["--cache", "hit"], lambda r: bool(r["flags"] & 2))):
        rc, nj, _ = run_json("report", "--db", NU, *args)
        check_summary(nj["summary"], [r for r in nu_recs if pred(r)], "report --json %s, answers without usage" % " ".join(args))
    # users: the same cost per request as report, per user
    rc, uj, _ = run_json("users", "--db", NU)
    bad = []
    for u in uj["users"]:
        mine = [r for r in nu_recs if (r.get("user") or "") == u["user"]]
        n_pr = sum(1 for r in mine if not r["cost_flags"] & 2 and not no_usage(r))
        want = sum(r["cost_nusd"] for r in mine) / n_pr if n_pr else None
        if (want is None) != (u["avg_cost_nusd"] is None) or (want is not None and abs(u["avg_cost_nusd"] - want) > 1e-6):
            bad.append((u["user"], u["avg_cost_nusd"], want))
    ok(uj["users"] and not bad, "users --json: avg_cost_nusd = cost / priced requests (answers without usage left out, "
       "as report)", bad[:3])
    rc, nj, _ = run_json("report", "--db", NU, "--cache", "hit", "--status", "200", "--where", "NoSuch=1")
    eq((nj["summary"]["requests"], nj["summary"]["cost_per_request_nusd"]), (0, None),
       "report --json: cost_per_request_nusd is null without priced requests")

    rc, rt, _ = run_json("report", "--db", A, "--trend", "day")
    days = grouped(recs, lambda r: r["start_us"] // (86400 * 10**6))
    buckets = rt["trend"]["buckets"]
    eq(len(buckets), max(days) - min(days) + 1, "trend day: one bucket per day, gaps included")
    got = {b["period"]: (b["requests"], b["cost_nusd"]) for b in buckets if b["requests"]}
    want = {time.strftime("%Y-%m-%d", time.gmtime(d * 86400)): (len(v), sum(r["cost_nusd"] for r in v))
            for d, v in days.items()}
    eq(got, want, "trend day: requests and cost per day")
    rc, rw, _ = run_json("report", "--db", A, "--trend", "month")
    eq(sum(b["requests"] for b in rw["trend"]["buckets"]), 3000, "trend month: buckets add up")

    rc, out, _ = run("report", "--db", A)
    unpriced = sum(1 for r in recs if r["cost_flags"] & 2)
    ok(rc == 0 and ("+ %d unpriced" % unpriced) in out, "report text marks unpriced requests (+ %d unpriced)" % unpriced, out[:800])
    ok("Latency" in out and "p95" in out and "By model" in out, "report text has latency and breakdown")
    rc, out, _ = run("report", "--db", A, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    eq(sum(int(r["requests"]) for r in rows if r["level"] == "1"), 3000, "report --csv parses; level-1 rows add up")
    rc, out, _ = run("report", "--db", A, "--csv", "--trend", "week")
    rows = list(csv.DictReader(io.StringIO(out)))
    eq(sum(int(r["requests"]) for r in rows), 3000, "report --csv --trend week parses and adds up")


if __name__ == "__main__":
    sys.exit(main(tests))
