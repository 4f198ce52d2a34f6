#!/usr/bin/python3
"""hc-analyze undecodable records, read-only reads, stats, prune, bad inputs and the
default store path, --json/--csv of every command, prices.

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
    B = st.B

    # -- undecodable records, read-only, stats, prune -----------------------------------------
    U = os.path.join(tmp, "u")
    gen(U, "--count", 500, "--seed", 9, "--bad", 3)
    rc, uj2, err = run_json("report", "--db", U)
    eq((rc, uj2["summary"]["requests"], uj2["undecodable"]), (0, 500, 3), "undecodable records counted and skipped")
    ok("3 records could not be decoded" in err, "undecodable records reported on stderr", err)
    rc, st, _ = run_json("stats", "--db", U)
    eq((st["records"], st["undecodable"], st["schema"]), (503, 3, 1), "stats: records, undecodable, schema")
    rc, st, _ = run_json("stats", "--db", A)
    nb = sum((r["request_body"] is not None) + (r["response_body"] is not None) for r in recs)
    eq((st["records"], st["bodies"], st["tables"]["bodies"]["entries"]), (3000, nb, nb), "stats: record and body counts")
    ok(st["file_bytes"] > 0 and st["map_bytes"] >= st["file_bytes"] and st["pages_used"] > 0, "stats: sizes")
    rc, out, _ = run("stats", "--db", A)
    ok(rc == 0 and "Records     3,000" in out and "records" in out, "stats text")
    eq(sha(os.path.join(A, "data.mdb")), before, "read commands never modified the store")

    R = os.path.join(tmp, "recent")
    gen(R, "--count", 1000, "--seed", 4, "--start", "10d", "--span", "10d", "--with-bodies", "--json-out", R + ".jsonl")
    rrecs = load(R + ".jsonl")
    now = time.time() * 10**6
    rc, rj, _ = run_json("report", "--db", R, "--since", "5d")
    want = sum(1 for r in rrecs if r["start_us"] >= now - 5 * 86400e6)
    ok(abs(rj["summary"]["requests"] - want) <= 1, "report --since 5d (relative): %d ~ %d" % (rj["summary"]["requests"], want))
    rc, pj, _ = run_json("prune", "--db", R, "--older-than", "5d", "--dry-run")
    old = [r for r in rrecs if r["start_us"] < now - 5 * 86400e6]
    ok(abs(pj["records_removed"] - len(old)) <= 1 and pj["dry_run"], "prune --dry-run counts %d old records" % len(old))
    rc, st0, _ = run_json("stats", "--db", R)
    eq(st0["records"], 1000, "prune --dry-run changed nothing")
    rc, pj, _ = run_json("prune", "--db", R, "--older-than", "5d", "--bodies-only")
    rc, st1, _ = run_json("stats", "--db", R)
    eq((st1["records"], st1["bodies"]), (1000, st0["bodies"] - pj["bodies_removed"]), "prune --bodies-only keeps records")
    ok(pj["bodies_removed"] > 0, "prune --bodies-only removed %d bodies" % pj["bodies_removed"])
    rc, out, _ = run("prune", "--db", R, "--older-than", "5d")
    rc, st2, _ = run_json("stats", "--db", R)
    ok(rc == 0 and "removed" in out and abs(st2["records"] - (1000 - len(old))) <= 1, "prune removed the old records", out)
    rc, out, err = run("prune", "--db", R)
    one_line_error(rc, err, "prune without --older-than or a filter", "--older-than")
    # With filters: only the records they select, of any age (a user's data, deleted).
    kept = [r for r in rrecs if r["start_us"] >= now - 5 * 86400e6]
    users = sorted({r.get("user") or "" for r in kept} - {""})
    victim = users[0] if users else ""
    n_victim = sum(1 for r in kept if (r.get("user") or "") == victim)
    rc, pj, _ = run_json("prune", "--db", R, "--user", victim)
    rc2, uj, _ = run_json("requests", "--db", R, "--user", victim)
    rc3, st3, _ = run_json("stats", "--db", R)
    ok(victim and n_victim > 0 and pj["records_removed"] == n_victim and pj["filtered"] and pj["cutoff"] is None
       and uj["requests"] == [] and st3["records"] == st2["records"] - n_victim,
       "prune --user %s: exactly that user's %d records removed, the rest kept" % (victim, n_victim),
       (pj, st3["records"], st2["records"]))
    for opt in ("--user", "--session"):
        rc, out, err = run("prune", "--db", R, opt, "")
        one_line_error(rc, err, "prune %s '' (an unset variable, not a wish)" % opt, opt)
    P = os.path.join(tmp, "prunefilter")
    gen(P, "--count", 400, "--seed", 6, "--start", "10d", "--span", "10d", "--json-out", P + ".jsonl")
    precs = load(P + ".jsonl")
    sel = [r for r in precs if r["status"] >= 400 and r["start_us"] < now - 5 * 86400e6]
    rc, pj, _ = run_json("prune", "--db", P, "--older-than", "5d", "--status", "error", "--dry-run")
    ok(abs(pj["records_removed"] - len(sel)) <= 1, "prune --older-than 5d --status error --dry-run: %d ~ %d (both must hold)"
       % (pj["records_removed"], len(sel)))
    rc, out, err = run("prune", "--db", os.path.join(tmp, "nothing"), "--older-than", "1d")
    one_line_error(rc, err, "prune on a missing store")
    ok(not os.path.exists(os.path.join(tmp, "nothing")), "prune does not create a missing store")

    # -- bad inputs ---------------------------------------------------------------------------
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    garbage = os.path.join(tmp, "garbage")
    os.mkdir(garbage)
    with open(os.path.join(garbage, "data.mdb"), "wb") as f:
        f.write(os.urandom(64 * 1024))
    NEWER = os.path.join(tmp, "newer")
    gen(NEWER, "--count", 10, "--schema", 2)
    for args, needle, name in (
            (["report", "--db", os.path.join(tmp, "missing")], "missing", "missing store"),
            (["report", "--db", os.path.join(tmp, "missing")], "record with 'hc-run -- CMD'",
             "missing store: the message says how to make one"),
            (["report", "--db", empty], "no data.mdb", "directory without data.mdb"),
            (["report", "--db", garbage], "garbage", "garbage data.mdb"),
            (["report", "--db", NEWER], "newer", "newer schema"),
            (["requests", "--db", NEWER], "schema 2", "newer schema (requests)"),
            (["report", "--db", A, "--since", "yesterday"], "--since", "bad --since"),
            (["report", "--db", A, "--until", "2026-13-45"], "--until", "bad --until"),
            (["report", "--db", A, "--by", "color"], "--by", "unknown --by"),
            (["report", "--db", A, "--trend", "decade"], "--trend", "unknown --trend"),
            (["report", "--db", A, "--status", "6xx"], "--status", "bad --status"),
            (["report", "--db", A, "--cache", "maybe"], "--cache", "bad --cache"),
            (["report", "--db", A, "--where", "Workflow"], "--where", "--where without ="),
            (["requests", "--db", A, "--limit", "-3"], "--limit", "negative --limit"),
            (["requests", "--db", A, "--bogus"], "--bogus", "unknown option"),
            (["requests", "--db", A, "--limit"], "--limit", "missing option value"),
            (["frobnicate"], "frobnicate", "unknown command"),
            (["export", "--db", A, "--format", "xml"], "--format", "unknown export format"),
            (["show", "--db", A], "ID", "show without an ID"),
    ):
        rc, out, err = run(*args)
        one_line_error(rc, err, name, needle)
    rc, out, err = run("report", env={"HC_DB": A})
    eq((rc, json.loads(run("report", "--json", env={"HC_DB": A})[1])["summary"]["requests"]), (0, 3000),
       "HC_DB is the default store")
    rc, out, err = run()
    eq(rc, 2, "no command: exit 2")
    db_default = "$HC_DB, else $XDG_DATA_HOME/hcshim/store, else ~/.local/share/hcshim/store"
    for cmd in ("requests", "show", "report", "users", "sessions", "audit", "export", "import", "merge", "prune",
                "compact", "stats", "prices", "html", "serve", "cache", "ratelimits", "check", "salvage"):
        rc, out, err = run(cmd, "-h")
        ok(rc == 0 and out.startswith("usage: hc-analyze %s" % cmd) and not err, "%s -h: usage on stdout, exit 0" % cmd)
        if cmd != "merge":  # merge names its stores as arguments
            ok(db_default in " ".join(out.split()), "%s -h: --db default is %s" % (cmd, db_default),
               [l for l in out.splitlines() if "--db" in l])
    # the default store as the help says: $HC_DB, else $XDG_DATA_HOME/hcshim/store, else ~/.local/share/...
    xdg = os.path.join(tmp, "xdg")
    os.makedirs(os.path.join(xdg, "hcshim"))
    os.symlink(A, os.path.join(xdg, "hcshim", "store"))
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, ".local", "share", "hcshim"))
    os.symlink(B, os.path.join(home, ".local", "share", "hcshim", "store"))
    for env, want, name in (({"XDG_DATA_HOME": xdg, "HOME": home}, 3000, "$XDG_DATA_HOME/hcshim/store before ~/.local/share"),
                            ({"XDG_DATA_HOME": "", "HOME": home}, 2000, "~/.local/share/hcshim/store without $XDG_DATA_HOME"),
                            ({"HC_DB": B, "XDG_DATA_HOME": xdg, "HOME": home}, 2000, "$HC_DB before $XDG_DATA_HOME")):
        rc, out, err = run("report", "--json", env=env)
        eq((rc, json.loads(out)["summary"]["requests"] if rc == 0 else err), (0, want), "default store: " + name)
    rc, out, _ = run("--help")
    ok(rc == 0 and "audit" in out, "hc-analyze --help lists the commands")
    flat = " ".join(out.split())
    ok("except html, which refuses --csv" in flat and "serve, which refuses both" in flat,
       "hc-analyze --help: says html refuses --csv and serve refuses --json and --csv", out[-600:])

    # -- --json / --csv: every command but html --csv and serve -------------------------------
    for args in (["requests"], ["report"], ["users"], ["sessions"], ["stats"], ["prices"], ["cache"],
                 ["ratelimits"], ["export"], ["audit", "--max-requests", 100000], ["show", recs[0]["id"]]):
        rc, js, err = run_json(*args, "--db", A)
        ok(rc == 0 and isinstance(js, dict), "%s --json: one JSON document" % args[0], err)
        rc, out, err = run(*args, "--db", A, "--csv")
        ok(rc == 0 and out.endswith("\r\n") and list(csv.reader(io.StringIO(out))), "%s --csv: CSV" % args[0], err)
    rc, js, err = run_json("html", "--db", A)
    ok(rc == 0 and "summary" in js, "html --json: the data document", err)
    for args, needle in ((["html", "--csv"], "--csv does not apply"), (["serve", "--json"], "--json does not apply"),
                         (["serve", "--csv"], "--csv does not apply"),
                         (["serve", "--csv", "--json"], "--json and --csv together")):
        rc, out, err = run(*args, "--db", A)
        one_line_error(rc, err, " ".join(args) + " refused naming the option", needle)
        why = err.split("does not apply" if "does not apply" in err else "together", 1)[-1]
        ok(why.startswith(": ") and len(why.strip()) > 20, "%s: says why" % " ".join(args), err)

    # -- prices --------------------------------------------------------------------------------
    rc, pj, _ = run_json("prices", "--db", A)
    got = {(u["provider"], u["model"]): u["requests"] for u in pj["unpriced"]}
    want = {}
    for r in recs:
        if r["cost_flags"] & 2:
            want[(r["provider"], model_of(r))] = want.get((r["provider"], model_of(r)), 0) + 1
    eq(got, want, "prices: unpriced models seen with their request counts")
    ok(isinstance(pj["prices"], list), "prices --json lists the price table (%d rows)" % len(pj["prices"]))


if __name__ == "__main__":
    sys.exit(main(tests, want_b=True))
