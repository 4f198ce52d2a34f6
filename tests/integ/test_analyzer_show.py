#!/usr/bin/python3
"""hc-analyze show: one record by id, prefix, suffix or request id; its bodies.

On the shared fixture tests/lib/anafix.py (stores from hc_gen, numbers checked
against Python); the other test_analyzer_*.py files cover the other commands.
"""
import csv
import io
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from anafix import *  # noqa: E402,F401,F403 — ok/eq, run…, gen, the independent computations


def tests(tmp, st):
    A, recs, before = st.A, st.recs, st.before  # noqa: F841

    # -- show -------------------------------------------------------------------------------
    r0 = next(r for r in recs if r["request_body"] and r["response_body"] and not r["flags"] & 1)
    rc, out, _ = run("show", "--db", A, r0["id"])
    ok(rc == 0 and r0["id"] in out and "request body" in out and "response body" in out,
       "show full id: fields and both bodies", out[:300])
    # the requests table's ID column is the id's last 8 hex digits (the first 8 are
    # the time: shared by records of the same minute), and show takes it
    rc, out, _ = run("requests", "--db", A, "--limit", "3")
    first = [l for l in out.splitlines()[1:] if l.strip()]
    newest = sorted(recs, key=lambda r: r["id"])[-1]["id"]
    ok(first and newest[-8:] in first[0].split(), "requests: the ID column shows the last 8 hex digits", first[:1])
    rc, sj0, _ = run_json("show", "--db", A, newest[-8:])
    eq((rc, sj0 and sj0.get("id")), (0, newest), "show with the last 8 hex digits (as requests shows them)")
    rc, sj1, _ = run_json("show", "--db", A, r0["id"][:8] + r0["id"][9:13])
    eq((sj1 or {}).get("id"), r0["id"], "show: unique 12-hex-digit prefix")
    eq(sj1["request_body"], r0["request_body"], "show --json: request body")
    eq(sj1["response_body"], r0["response_body"], "show --json: response body")
    for prov in ("openai", "anthropic", "google", "ollama"):
        rs = next((r for r in recs if r["provider"] == prov and r["flags"] & 1 and r["status"] == 200
                   and r["response_body"]), None)
        if not rs:
            continue
        rc, sj2, _ = run_json("show", "--db", A, rs["id"])
        eq(sj2["response_text"], reassemble(rs["response_body"], prov), "show: %s stream reassembled" % prov)
        rc, out, _ = run("show", "--db", A, rs["id"])
        ok("reassembled" in out, "show text: %s reassembled section" % prov)
    rq1 = next(r for r in recs if r["request_id"])
    rc, sj3, _ = run_json("show", "--db", A, rq1["request_id"])
    eq(sj3["id"], rq1["id"], "show by Helicone-Request-Id")
    rc, out, err = run("show", "--db", A, "ffffffff")
    eq(rc, 1, "show: no match exits 1")
    rc, out, _ = run("show", "--db", A, r0["id"], "--raw")
    ok(r0["request_body"] in out, "show --raw prints the body verbatim")
    rc, out, _ = run("show", "--db", A, r0["id"], "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    ok(["request_body", r0["request_body"]] in rows, "show --csv: field,value rows with the body")


if __name__ == "__main__":
    sys.exit(main(tests))
