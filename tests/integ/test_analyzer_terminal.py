#!/usr/bin/python3
"""hc-analyze every human table fits the terminal ($COLUMNS, or the terminal's own width),
and hostile content (escapes, control bytes) never reaches it raw.

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
    H, hrecs = st.H, st.hrecs
    rc, uj, _ = run_json("users", "--db", A)  # users --json of A: the numbers the text table must show

    # -- every human table fits the terminal: $COLUMNS, or the terminal's own width --------------
    human = (["requests", "--limit", "200"], ["report"], ["report", "--by", "user", "--by", "property:Step"],
             ["report", "--trend", "day"], ["users"], ["sessions"], ["sessions", "SID"], ["prices"], ["cache"],
             ["ratelimits"], ["ratelimits", "--by", "provider", "--trend", "day"], ["stats"],
             ["audit", "--max-cost", "0.01", "--max-p95-ms", "100", "--max-error-rate", "1%"])
    deepest = {}
    for store, rs in ((A, recs), (H, hrecs)):
        sess = grouped([r for r in rs if r["session_id"]], lambda r: r["session_id"])
        deepest[store] = max(sess, key=lambda k: (len(session_tree(sess[k])), k))
    for cols in (80, 60):
        for store, sname in ((A, "A"), (H, "hostile")):
            for args in human:
                args = [deepest[store] if a == "SID" else a for a in args]
                rc, out, err = run(*args, "--db", store, env={"COLUMNS": str(cols)})
                lines = out.splitlines()
                wide = [l for l in lines if len(l) > cols]
                ok(rc in (0, 1) and len(lines) > 2 and not wide,
                   "COLUMNS=%d %s (%s store): no line wider than %d" % (cols, " ".join(args[:3]), sname, cols),
                   "rc=%d %s\n%s" % (rc, err, "\n".join(wide[:5])))
    for args in (["users"], ["sessions"], ["prices"], ["report"], ["stats"]):
        rc, out, _ = run(*args, "--db", A)
        ok(max(len(l) for l in out.splitlines()) > 80, "%s into a pipe without $COLUMNS: not narrowed" % args[0])
    # the terminal's width (TIOCGWINSZ) when stdout is a terminal and $COLUMNS is not set
    for args in (["users"], ["sessions"], ["prices"], ["cache"], ["report"], ["ratelimits"]):
        out = run_tty([*args, "--db", A], 80)
        lines = out.replace("\r\n", "\n").splitlines()
        wide = [l for l in lines if len(l) > 80]
        ok(len(lines) > 2 and not wide and "\x1b" not in out, "%s on an 80-column terminal: no line wider" % args[0],
           "\n".join(wide[:5]) or out[:300])
    # the columns left out and the cells cut, not the numbers: users keeps user, requests, cost, errors
    rc, out, _ = run("users", "--db", A, env={"COLUMNS": "80"})
    head = out.splitlines()[0].split()
    ok(head[:3] == ["USER", "REQUESTS", "COST"] and "ERRORS" in head and "SEEN" not in head,
       "users at 80 columns: optional columns (first/last seen, top models) left out", out.splitlines()[0])
    uu = {u["user"] or "(none)": u for u in uj["users"]}
    bad = []
    note = out.rsplit("\n(", 1)[1] if "\n(" in out else ""
    ok(note.startswith("3 columns left out to fit 80 columns: TOP MODELS, FIRST SEEN, LAST SEEN;")
       and "--csv or --json" in note, "users at 80 columns: a last line says which columns were left out and how to "
       "see them", out[-300:])
    for l in out.rsplit("\n(", 1)[0].splitlines()[1:]:
        name = l.split("  ")[0].strip()
        u = uu.get(name)
        if u is None or "{:,}".format(u["requests"]) not in l:
            bad.append(l)
    ok(not bad, "users at 80 columns: every user whole, with its request count", bad[:3])
    # JSON and CSV are never narrowed
    for args in (["requests", "--csv"], ["report", "--csv"], ["users", "--csv"], ["sessions", "--csv"],
                 ["prices", "--csv"], ["cache", "--csv"], ["ratelimits", "--csv"], ["stats", "--csv"],
                 ["report", "--json"], ["users", "--json"], ["sessions", "--json"], ["ratelimits", "--json"]):
        rc1, out1, _ = run(*args, "--db", A, env={"COLUMNS": "40"})
        rc2, out2, _ = run(*args, "--db", A)
        ok(rc1 == 0 and out1 == out2, "%s: COLUMNS=40 changes nothing" % " ".join(args))

    # -- hostile content ----------------------------------------------------------------------
    hostile_outputs = []
    for args in (["requests", "--limit", "0"], ["report", "--by", "user", "--by", "property:Note"],
                 ["users"], ["sessions", "--limit", "0"], ["report", "--by", "session"]):
        rc, out, err = run(*args, "--db", H)
        hostile_outputs.append((args, rc, out + err))
    hr = next(r for r in hrecs if "\x1b" in r["user"] and r["request_body"] and r["response_body"])
    rc, out, err = run("show", "--db", H, hr["id"])
    hostile_outputs.append((["show"], rc, out + err))
    evil = next(r for r in hrecs if "\x1b" in r["session_path"])
    rc, out, err = run("sessions", "--db", H, evil["session_id"])
    hostile_outputs.append((["sessions", "ID"], rc, out + err))
    bad = [(a, rc) for a, rc, o in hostile_outputs if rc != 0 or "\x1b" in o or "\x9b" in o or "\x07" in o]
    ok(not bad, "hostile prompts/properties/users/paths: no raw ESC, CSI or BEL reaches the terminal", bad)
    ok("mallory\\e[1m" in hostile_outputs[5][2], "show: escape sequences are shown escaped (mallory\\e[1m)")
    hs = next(r for r in hrecs if r["flags"] & 1 and r["status"] == 200 and "\x1b[31m" in reassemble(r["response_body"], r["provider"]))
    rc, out, _ = run("show", "--db", H, hs["id"])
    ok("\x1b" not in out and "Sure \\e[31mred" in out, "show: reassembled hostile answer is escaped")
    rc, out, _ = run("show", "--db", H, hs["id"], "--raw")
    ok(hs["response_body"] in out and "\x1b[31m" in out, "show --raw: bodies and text byte for byte")
    rc, hj, _ = run_json("requests", "--db", H, "--limit", "0")
    notes = [r for r in hj["requests"] if "Note" in r["props"]]
    ok(notes and all(r["props"]["Note"] == "x\x1b[31m,\"y\"\nz" for r in notes),
       "hostile: --json carries the exact value (escaped JSON)")
    rc, out, _ = run("export", "--db", H, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    eq(len(rows), 300, "hostile: export --csv still parses (quoted commas, quotes, newlines)")
    rc, out, _ = run("users", "--db", H, "--csv")
    users = {r["user"] for r in csv.DictReader(io.StringIO(out))}
    ok("mallory\x1b[1m" in users, "hostile: users --csv keeps the exact user id")


if __name__ == "__main__":
    sys.exit(main(tests, want_h=True))
