#!/usr/bin/python3
"""hc-analyze export (jsonl, json, csv, otlp; -o FILE), import and merge: round trips that
keep every byte, idempotence, merged shards equal to one store.

On the shared fixture tests/lib/anafix.py (stores from hc_gen, numbers checked
against Python); the other test_analyzer_*.py files cover the other commands.
"""
import csv
import io
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from anafix import *  # noqa: E402,F401,F403 — ok/eq, run…, gen, the independent computations


def tests(tmp, st):
    A, recs, before = st.A, st.recs, st.before  # noqa: F841

    # -- export / import / merge ------------------------------------------------------------
    exp = os.path.join(tmp, "a.export.jsonl")
    rc, out, err = run("export", "--db", A, "--bodies", "-o", exp)
    eq(rc, 0, "export --bodies -o FILE")
    exported = {o["id"]: o for o in load(exp)}
    bad = []
    for r in recs:
        o = exported.get(r["id"])
        if o is None:
            bad.append((r["id"], "missing"))
            continue
        for k, v in r.items():
            if o.get(k) != v:
                bad.append((r["id"], k, o.get(k), v))
    ok(len(exported) == 3000 and not bad, "export jsonl: every field of every record equals hc_gen's", bad[:5])
    # -o FILE: a new 0600 file renamed over FILE, whatever FILE was
    odir = os.path.join(tmp, "out")
    os.mkdir(odir)
    of = os.path.join(odir, "e.jsonl")
    with open(of, "w") as f:
        f.write("old content\n" * 5000)
    os.chmod(of, 0o644)
    hard = os.path.join(tmp, "e.hardlink")
    os.link(of, hard)
    ino = os.stat(of).st_ino
    rc, out, err = run("export", "--db", A, "--where", "Workflow=research", "-o", of)
    with open(of) as f:
        got = f.read()
    eq((rc, oct(os.stat(of).st_mode & 0o777)), (0, "0o600"), "export -o over an existing 0644 file: mode 0600")
    eq(got, run("export", "--db", A, "--where", "Workflow=research")[1], "export -o FILE: content equals stdout's")
    with open(hard) as f:
        ok(os.stat(of).st_ino != ino and f.read() == "old content\n" * 5000,
           "export -o FILE: a new file renamed over FILE (not truncated and rewritten in place)")
    eq(os.listdir(odir), ["e.jsonl"], "export -o: no temporary file left")
    victim = os.path.join(odir, "victim")
    with open(victim, "w") as f:
        f.write("keep me\n")
    os.chmod(victim, 0o644)
    link = os.path.join(odir, "link.jsonl")
    os.symlink(victim, link)
    rc, out, err = run("export", "--db", A, "-o", link)
    with open(victim) as f:
        vgot = f.read()
    ok(rc == 0 and not os.path.islink(link) and vgot == "keep me\n" and os.stat(link).st_mode & 0o777 == 0o600,
       "export -o SYMLINK: the link is replaced by a 0600 file, its target untouched", (rc, err, vgot))
    rc, out, err = run("export", "--db", A, "-o", odir)
    one_line_error(rc, err, "export -o DIRECTORY", odir)
    eq(sorted(os.listdir(odir)), ["e.jsonl", "link.jsonl", "victim"], "export -o: failed export leaves no temporary file")
    rc, out, err = run("export", "--db", os.path.join(tmp, "missing"), "-o", of)
    with open(of) as f:
        eq((rc, f.read()), (2, got), "export -o FILE from a missing store: FILE left as it was")
    I = os.path.join(tmp, "imported")
    rc, out, _ = run("import", "--db", I, exp)
    ok(rc == 0 and "3,000 records added" in out, "import: 3000 added", out)
    rc, out, _ = run("import", "--db", I, exp)
    ok(rc == 0 and "0 records added" in out, "import twice adds nothing", out)
    rc, again, _ = run("export", "--db", I, "--bodies")
    with open(exp) as f:
        eq(again, f.read(), "export -> import -> export round-trips byte for byte")
    dumps = {}
    for store in (A, I):
        dumps[store] = dump(store, "records")
    ok(dumps[A] == dumps[I] and dumps[A], "import re-encodes records to the same bytes (mdb_dump records)")
    badline = os.path.join(tmp, "bad.jsonl")
    with open(badline, "w") as f:
        f.write(json.dumps(recs[0]) + "\n{not json\n")
    rc, out, err = run("import", "--db", os.path.join(tmp, "i2"), badline)
    one_line_error(rc, err, "import of a malformed line", "bad.jsonl:2")

    S0, S1, FULL, M = (os.path.join(tmp, n) for n in ("s0", "s1", "full", "merged"))
    gen(S0, "--count", 800, "--seed", 5, "--with-bodies", "--shard", "0/2")
    gen(S1, "--count", 800, "--seed", 5, "--with-bodies", "--shard", "1/2")
    gen(FULL, "--count", 800, "--seed", 5, "--with-bodies")
    s0_before = sha(os.path.join(S0, "data.mdb"))
    rc, mj, _ = run_json("merge", M, S0, S1)
    eq((rc, mj["added"], mj["skipped"]), (0, 800, 0), "merge OUT IN IN: 800 records added")
    same = True
    for t in ("records", "bodies"):
        d1 = dump(M, t)
        d2 = dump(FULL, t)
        same = same and d1 == d2 and len(d1) > 1000
    ok(same, "merged shards equal the store recorded in one go (same ids, same bytes)")
    rc, mj, _ = run_json("merge", M, S0, S1)
    eq((rc, mj["added"], mj["skipped"]), (0, 0, 800), "merging twice adds nothing")
    eq(sha(os.path.join(S0, "data.mdb")), s0_before, "merge opens inputs read-only")
    rc, out, err = run("merge", M, M)
    one_line_error(rc, err, "merge OUT OUT", "output")
    rc, out, err = run("merge", M)
    one_line_error(rc, err, "merge without inputs")

    rc, out, _ = run("export", "--db", A, "--format", "otlp")
    otlp = json.loads(out)
    spans = otlp["resourceSpans"][0]["scopeSpans"][0]["spans"]
    eq(len(spans), 3000, "export otlp: one span per exchange")
    byid = {}
    for sp in spans:
        attrs = {a["key"]: list(a["value"].values())[0] for a in sp["attributes"]}
        byid[attrs["hcshim.id"]] = (sp, attrs)
    r = next(r for r in recs if r["session_id"] and r["model_resp"] and r["status"] == 200)
    sp, attrs = byid[r["id"]]
    eq((attrs["gen_ai.request.model"], attrs["gen_ai.response.model"], attrs["gen_ai.usage.input_tokens"],
        attrs["gen_ai.usage.output_tokens"], attrs["http.response.status_code"], attrs["gen_ai.operation.name"]),
       (r["model_req"], r["model_resp"], str(r["tok_in"]), str(r["tok_out"]), str(r["status"]), "chat"),
       "export otlp: GenAI attributes of a span")
    eq((sp["startTimeUnixNano"], sp["endTimeUnixNano"]),
       (str(r["start_us"] * 1000), str((r["start_us"] + lat(r)) * 1000)), "export otlp: start/end in unix nanos")
    same_session = [byid[x["id"]][0]["traceId"] for x in recs if x["session_id"] == r["session_id"]]
    ok(len(set(same_session)) == 1 and len(same_session[0]) == 32, "export otlp: one traceId per session")
    ok(all(len(s["spanId"]) == 16 for s in spans) and len({s["spanId"] for s in spans}) == 3000,
       "export otlp: unique 16-hex span ids")
    e = next(x for x in recs if x["status"] >= 500)
    eq(byid[e["id"]][0]["status"]["code"], 2, "export otlp: error spans have status ERROR")
    rc, out, _ = run("export", "--db", A, "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    eq((len(rows), rows[0]["id"], json.loads(rows[0]["props"])), (3000, recs[0]["id"], recs[0]["props"]),
       "export --csv parses; props column is JSON")


if __name__ == "__main__":
    sys.exit(main(tests))
