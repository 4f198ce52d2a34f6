#!/usr/bin/python3
"""Reading the fleet: every read command given `--db clickhouse://…` prints
byte for byte what it prints on a local `merge` of the same stores.

Three hosts (separate stores: hc_gen with hostile text and bodies, hc_gen
with bodies, and records carrying run ids, response ids, finish reasons and
request parameters brought in by `import`) ship to one
clickhouse-server started here (test_fleet_clickhouse.py's fixture); one host
ships twice (a merge copy of it too) so re-sent rows must collapse. Then
requests, show, report, users, sessions, audit, ratelimits, html and serve
run on both and their outputs (text, --json, --csv where offered; with
filters pushed down to the server and filters it cannot express) must be
equal once the store's name is replaced (the merge's path vs the URL), plus
html's generation time and LMDB transaction id, which say when and how the
file was written, not what records it holds. Also: the temporary store is
removed, an unreachable server or a bad URL exits 2 with one line.
Skips only when clickhouse-server cannot be started.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_fleet_clickhouse import SERVER, ClickHouse, free_port, gen  # noqa: E402
from hctest import ANALYZE, TAP  # noqa: E402


def run(args, env):
    return subprocess.run([ANALYZE] + args, capture_output=True, env=env, timeout=300)


def norm(b, names):
    s = b.decode("utf-8", "surrogateescape")
    for n in names:
        s = s.replace(n, "STORE")
    s = re.sub(r'"generated":"[^"]*"', '"generated":"T"', s)
    return re.sub(r'"txn":\d+', '"txn":0', s)


ANSWER_FIELDS = [  # (response_id, finish_reasons, req_params), hostile bytes included
    ("chatcmpl-9x2Yb", "stop", {"temperature": "0.2", "max_tokens": "64"}),
    ("msg_01\tA\u00e9\u2028", "length,tool_calls", {"top_p": "0.9", "stop": "[\"\\n\",\"END\"]"}),
    ("resp_\u65e5\u672c", "end_turn", {}),
    ("", "", {"seed": "7", "n": "1", "temperature": "1"}),
]


def run_store(src, seed, tmp):
    """A store whose records carry run ids (run-a older, run-b newer) and, on
    three in four, a response id, finish reasons and request parameters
    (fields 41-43), made with export/import so the ids and bodies are hc_gen's."""
    gen(src, 300, seed, "--with-bodies", "--start", "2026-10-05")
    p = subprocess.run([ANALYZE, "export", "--db", src, "--bodies"], capture_output=True, check=True)
    lines = p.stdout.decode().splitlines()
    out = []
    for i, line in enumerate(lines):
        r = json.loads(line)
        r["run_id"] = "run-a" if i < len(lines) // 2 else ("run-b" if i % 3 else "")
        r["response_id"], r["finish_reasons"], r["req_params"] = ANSWER_FIELDS[i % len(ANSWER_FIELDS)]
        if i % 4 != 3:  # the pytest test that made the call (report --by test)
            r.setdefault("props", {})["test"] = "tests/test_agent.py::test_%s (call)" % "abc"[i % 3]
        out.append(json.dumps(r))
    path = os.path.join(tmp, "runs.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    dst = src + "-runs"
    subprocess.run([ANALYZE, "import", "--db", dst, path], capture_output=True, check=True)
    return dst


def serve(db, env):
    p = subprocess.Popen([ANALYZE, "serve", "--db", db, "--port", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode()
    m = re.search(r"http://[^ ]+:(\d+)/", line)
    return p, int(m.group(1)) if m else 0


def fetch(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    t = TAP()
    tmp = tempfile.mkdtemp(prefix="hc-fleetread-")
    ch = ClickHouse(tmp)
    spool = os.path.join(tmp, "spool")
    os.makedirs(spool)
    env = dict(os.environ, TMPDIR=spool, TZ="UTC")
    servers = []
    try:
        if not SERVER or not ch.start():
            print("ok 1 - # SKIP clickhouse-server cannot be started on this machine")
            print("1..1")
            return 0
        h = [os.path.join(tmp, "host%d" % i) for i in range(3)]
        gen(h[0], 700, 21, "--with-bodies", "--hostile")
        gen(h[1], 900, 22, "--with-bodies")
        h[2] = run_store(h[2], 23, tmp)
        merged = os.path.join(tmp, "merged")
        t.eq(run(["merge", merged] + h, env).returncode, 0, "local merge of the three host stores")
        url = ch.url("fleet")
        procs = [subprocess.Popen([ANALYZE, "ship", "--db", s, "--to", url, "--bodies", "--origin", "h%d" % i],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                 for i, s in enumerate(h)]
        for p in procs:
            p.communicate(timeout=300)
        t.eq([p.returncode for p in procs], [0, 0, 0], "three hosts shipped with --bodies at once")
        # Re-sent rows (a copy of host0 shipped again) must collapse on read.
        copy = os.path.join(tmp, "copy0")
        run(["merge", copy, h[0]], env)
        t.eq(run(["ship", "--db", copy, "--to", url, "--bodies"], env).returncode, 0,
             "a copy of host0 shipped again (its rows are now on the server twice)")
        raw = int(ch.q("SELECT count() FROM fleet.hc_records").strip())
        t.ok(raw >= 1900 + 700, "the server holds re-sent rows before merging parts (%d rows)" % raw)

        names = [merged, url]
        ids = json.loads(run(["requests", "--db", merged, "--json", "-n", "0"], env).stdout)["requests"]
        sample = [ids[0]["id"], ids[len(ids) // 2]["id"][-8:], ids[-1]["id"][:13]]
        reqid = next((r.get("request_id") for r in ids if r.get("request_id")), None)
        if reqid:
            sample.append(reqid)
        filters = [[], ["--since", "2026-10-08", "--until", "2026-10-20"], ["--model", "gpt-4o*"],
                   ["--model", "claude-3-[5]*"], ["--provider", "OpenAI", "--cache", "miss"],
                   ["--status", "error"], ["--status", "4xx", "--status", "200"],
                   ["--where", "Workflow=research"], ["--run", "last"], ["--run", "run-a"],
                   ["--user", ids[3]["user"] or "nobody"], ["--session", "nonexistent"]]
        cmds = []
        for f in filters:
            cmds += [["requests", "-n", "0"] + f, ["report"] + f, ["report", "--json"] + f]
        for fmt in ([], ["--json"], ["--csv"]):
            cmds += [["requests"] + fmt, ["report"] + fmt, ["users"] + fmt, ["ratelimits"] + fmt]
        cmds += [["report", "--by", "provider", "--by", "user"], ["report", "--csv", "--by", "status", "--by", "api"],
                 ["report", "--json", "--by", "property:Workflow", "--by", "property:Step", "--trend", "day"],
                 ["report", "--by", "test"], ["report", "--json", "--by", "test", "--by", "model"],
                 ["report", "--trend", "week", "--by", "program", "--by", "host"], ["report", "--trend", "month"],
                 ["report", "--json", "--trend", "hour", "--since", "2026-10-20", "--until", "2026-10-21"],
                 ["report", "--csv", "--trend", "day", "--by", "session", "--top", "3"],
                 ["report", "--json", "--by", "session", "--top", "2", "--run", "last"]]
        cmds += [["users", "--json", "--model", "gpt-4o-mini"], ["ratelimits", "--provider", "openai"],
                 ["sessions"], ["sessions", "--json"], ["sessions", "-n", "0", "--since", "2026-10-15"],
                 ["audit", "--max-cost", "1000", "--max-error-rate", "50%"],
                 ["audit", "--json", "--max-cost", "0.01", "--max-requests", "10"],
                 ["audit", "--max-p95-ms", "100000", "--run", "last"]]
        sess = [s for s in json.loads(run(["sessions", "--db", merged, "--json", "-n", "0"], env).stdout)
                .get("sessions", []) if s.get("id")]
        for s in sess[:2]:
            cmds += [["sessions", s["id"]], ["sessions", "--json", s["id"]]]
        # Records of host2 with a response id, finish reasons and request parameters.
        answered = [r["id"] for r in (json.loads(x) for x in run(
            ["export", "--db", h[2], "--format", "jsonl"], env).stdout.decode().split("\n") if x)
            if r.get("response_id") or r.get("req_params")]
        t.ok(len(answered) >= 200, "host2 has %d records with fields 41-43 set" % len(answered))
        for i in sample + answered[:6]:
            cmds += [["show", i], ["show", "--json", i], ["show", "--raw", i]]
        cmds += [["export", "--format", "jsonl"], ["export", "--format", "jsonl", "--bodies"],
                 ["export", "--format", "json", "--run", "run-a"]]
        cmds += [["show", "ffffffffffff"]]
        bad = []
        for c in cmds:
            a = run(c + ["--db", merged], env)
            b = run(c + ["--db", url], env)
            if (a.returncode, norm(a.stdout, names), norm(a.stderr, names)) != \
               (b.returncode, norm(b.stdout, names), norm(b.stderr, names)):
                bad.append(" ".join(c))
                if len(bad) == 1:
                    t.diag("first difference: %s\nlocal %d: %s\nclickhouse %d: %s" % (
                        " ".join(c), a.returncode, (a.stdout + a.stderr)[:600], b.returncode,
                        (b.stdout + b.stderr)[:600]))
        t.eq(bad, [], "%d command lines (requests, show, export, report, users, sessions, audit, ratelimits; "
             "text, --json, --csv; filters) print the same on ClickHouse as on the local merge" % len(cmds))
        got = ch.q("SELECT countIf(response_id != ''), countIf(finish_reasons = 'length,tool_calls'), "
                   "countIf(has(req_params.name, 'seed')) FROM fleet.records").split()
        t.eq(got, ["225", "75", "75"], "the server holds the response ids, finish reasons and request "
             "parameters as columns (%s)" % got)
        rep = json.loads(run(["report", "--json", "--db", url], env).stdout)
        t.eq(rep["summary"]["requests"], 700 + 900 + 300, "every record counted once (re-sent rows collapsed)")
        runs = [json.loads(run(["report", "--json", "--db", url] + f, env).stdout)["summary"]["requests"]
                for f in (["--run", "run-a"], ["--run", "last"], ["--where", "Workflow=research"])]
        t.ok(runs[0] == 150 and 0 < runs[1] < 150 and runs[2] > 0,
             "the filters compared select records: run-a %d, run last %d, Workflow=research %d" % tuple(runs))
        rep = json.loads(run(["report", "--json", "--db", url, "--user", "nobody-at-all"], env).stdout)
        t.eq((rep["summary"]["requests"], rep["records_scanned"]), (0, 1900),
             "a filter that the server answers with no rows still reports every record scanned")

        # report is aggregated by the server: it needs no temporary store (a
        # TMPDIR that cannot be written does not matter), unlike requests; a
        # --model glob LIKE cannot express makes report stream too.
        nowrite = dict(env, TMPDIR=os.path.join(tmp, "no-such-dir"))
        agg = run(["report", "--db", url, "--by", "provider", "--trend", "day"], nowrite)
        streamed = run(["requests", "--db", url], nowrite)
        globbed = run(["report", "--db", url, "--model", "claude-3-[5]*"], nowrite)
        t.ok(agg.returncode == 0 and norm(agg.stdout, names) ==
             norm(run(["report", "--db", merged, "--by", "provider", "--trend", "day"], env).stdout, names),
             "report aggregates on the server (no temporary store needed), same output")
        t.ok(streamed.returncode == 2 and globbed.returncode == 2 and b"temporary store" in streamed.stderr,
             "requests, and report with a --model glob LIKE cannot say, stream rows into a temporary store")

        # html: the same file.
        ha, hb = os.path.join(tmp, "a.html"), os.path.join(tmp, "b.html")
        for db, out in ((merged, ha), (url, hb)):
            run(["html", "--db", db, "-o", out, "--since", "2026-10-02"], env)
        with open(ha, "rb") as fa, open(hb, "rb") as fb:
            da, db_ = fa.read(), fb.read()
        t.ok(len(da) > 10000 and norm(da, names) == norm(db_, names),
             "html -o: the same dashboard file (%d bytes)" % len(da))

        # serve: the same answers on every endpoint.
        pa, porta = serve(merged, env)
        pb, portb = serve(url, env)
        servers += [pa, pb]
        t.ok(porta and portb, "serve started on both (ports %d, %d)" % (porta, portb))
        paths = ["/api/summary", "/api/requests?limit=40", "/api/timeseries?bucket=day",
                 "/api/dashboard?bucket=day&limit=20", "/api/summary?model=gpt-4o&status=error",
                 "/api/request/" + ids[5]["id"], "/api/request/" + ids[7]["id"][-8:], "/metrics"]
        diff = []
        for pth in paths:
            a, b = fetch(porta, pth), fetch(portb, pth)
            if (a[0], norm(a[1], names)) != (b[0], norm(b[1], names)) or a[0] != 200:
                diff.append("%s (%d/%d)" % (pth, a[0], b[0]))
        t.eq(diff, [], "serve: %d endpoints answer the same (status 200, same body)" % len(paths))
        for p in servers:
            p.terminate()
            p.wait(20)
        servers = []

        t.eq(os.listdir(spool), [], "the temporary stores were removed (TMPDIR empty)")
        # Killed by SIGPIPE (output piped into head) mid-output: still removed.
        p = subprocess.run("%s requests -n 0 --db %s | head -1" % (ANALYZE, url), shell=True, env=env,
                           capture_output=True, timeout=120)
        t.ok(p.stdout.startswith(b"TIME") and os.listdir(spool) == [],
             "requests | head: killed by SIGPIPE, the temporary store is removed all the same")

        # Errors: one line, exit 2, naming the server; the password never shown.
        p = run(["report", "--db", "clickhouse://127.0.0.1:%d/fleet" % free_port()], env)
        err = p.stderr.decode()
        t.ok(p.returncode == 2 and err.count("\n") == 1 and "127.0.0.1" in err,
             "unreachable server: exit 2, one line naming it (%r)" % err.strip())
        p = run(["report", "--db", ch.url("nosuchdb")], env)
        err = p.stderr.decode()
        t.ok(p.returncode == 2 and "nosuchdb doesn't exist" in err and err.count("\n") == 1,
             "missing database: exit 2, the server's reason (%r)" % err.strip()[:160])
        p = run(["report", "--db", ch.url("fleet").replace("://", "://u:s3cret@")], env)
        err = p.stderr.decode()
        t.ok(p.returncode == 2 and "s3cret" not in err + p.stdout.decode() and "u" in err,
             "wrong user: exit 2, the password never printed (%r)" % err.strip()[:160])
        p = run(["users", "--db", "clickhouse://127.0.0.1:1/bad-name"], env)
        t.ok(p.returncode == 2 and b"DB" in p.stderr, "bad URL: exit 2 naming the bad part")
        t.eq(os.listdir(spool), [], "no temporary store left behind by the failures")
        # A row not written by ship (a bad id) is skipped with a warning, as a
        # local scan skips an undecodable record.
        ch.q("INSERT INTO fleet.hc_records (id, start_us, ver) VALUES ('not-an-id', 1, 1)")
        p = run(["requests", "--db", url, "--json", "-n", "0"], env)
        t.ok(p.returncode == 0 and b"1 row could not be decoded" in p.stderr and
             len(json.loads(p.stdout)["requests"]) == 1900,
             "a row ship did not write: skipped with one warning, the others listed")
        # A table made before run_id and fields 41-43 existed: ship adds the columns.
        for col in ("run_id", "response_id", "finish_reasons", "`req_params.name`", "`req_params.value`"):
            ch.q("ALTER TABLE fleet.hc_records DROP COLUMN " + col)
        copy2 = os.path.join(tmp, "copy2")
        run(["merge", copy2, h[2]], env)
        p = run(["ship", "--db", copy2, "--to", url, "--bodies"], env)
        cols = ch.q("SELECT count() FROM system.columns WHERE database = 'fleet' AND table = 'hc_records' "
                    "AND name IN ('run_id', 'response_id', 'finish_reasons', 'req_params.name', "
                    "'req_params.value')").strip()
        r = run(["report", "--json", "--db", url, "--run", "run-a"], env)
        n = json.loads(r.stdout)["summary"]["requests"] if r.returncode == 0 else r.stderr
        t.ok(p.returncode == 0 and cols == "5" and n == 150,
             "an hc_records without run_id and fields 41-43: ship adds the 5 columns, the re-sent rows "
             "carry them (run-a: %s)" % n, p.stderr)
        a = run(["show", "--json", answered[1], "--db", copy2], env)
        b = run(["show", "--json", answered[1], "--db", url], env)
        t.ok(a.returncode == 0 and b"length,tool_calls" in a.stdout and
             norm(a.stdout, [copy2]) == norm(b.stdout, [url]),
             "…and a re-sent record reads back with its finish reasons and parameters", b.stdout[:300])
    finally:
        for p in servers:
            p.kill()
        ch.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
