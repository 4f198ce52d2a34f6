#!/usr/bin/python3
"""hc-analyze against stores written by hc_gen, with every number checked
against values computed independently in Python from hc_gen's --json-out.

Runs the binaries from $HC_BUILD (default build/). No network, no shim.
Prints TAP lines and "# N passed, N failed"; exits 1 on any failure.
"""
import csv
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HC_BUILD", os.path.join(ROOT, "build"))
ANA = os.path.join(BUILD, "hc-analyze")
GEN = os.path.join(BUILD, "tools", "hc_gen")
# Under `make check` the runner also names an ASan+UBSan build: run hc-analyze
# from it when it is there (the generator is a test tool, from the main build).
if os.environ.get("HC_ASAN_BUILD") and os.access(os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze"), os.X_OK):
    ANA = os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze")

N_OK = N_FAIL = 0


def ok(cond, name, detail=None):
    global N_OK, N_FAIL
    if cond:
        N_OK += 1
        print("ok %d - %s" % (N_OK + N_FAIL, name))
    else:
        N_FAIL += 1
        print("not ok %d - %s" % (N_OK + N_FAIL, name))
        if detail is not None:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def eq(got, want, name):
    return ok(got == want, name, "got %r\nwant %r" % (got, want))


def run(*args, env=None, stdin=None):
    e = dict(os.environ)
    e.pop("HC_DB", None)
    e.pop("COLUMNS", None)
    e["NO_COLOR"] = "1"
    if env:
        e.update(env)
    p = subprocess.run([ANA] + [str(a) for a in args], capture_output=True, env=e, input=stdin, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def run_tty(args, cols, rows=50):
    """Run hc-analyze with stdout on a pseudo-terminal of cols x rows (no $COLUMNS);
    returns what it printed."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    e = dict(os.environ)
    e.pop("HC_DB", None)
    e.pop("COLUMNS", None)
    e["NO_COLOR"] = "1"
    p = subprocess.Popen([ANA] + [str(a) for a in args], stdout=slave, stderr=subprocess.DEVNULL, env=e)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    p.wait(timeout=60)
    return b"".join(chunks).decode("utf-8", "replace")


def run_json(*args):
    rc, out, err = run(*args, "--json")
    try:
        return rc, json.loads(out), err
    except ValueError as ex:
        ok(False, "JSON parses: %s" % " ".join(map(str, args)), "%s\n%s" % (ex, out[:500]))
        return rc, None, err


def gen(db, *args):
    p = subprocess.run([GEN, "--db", db] + [str(a) for a in args], capture_output=True, timeout=120)
    if p.returncode != 0:
        print("# hc_gen failed: %s" % p.stderr.decode())
        sys.exit(1)


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


# --- independent computations --------------------------------------------------------------

def is_error(r):
    return r["status"] >= 400 or r["status"] <= 0


def model_of(r):
    return r["model_req"] or r["model_resp"]


def pct(values, p):
    """Nearest rank: the value of rank ceil(p*n/100) in ascending order."""
    if not values:
        return None
    v = sorted(values)
    rank = max(1, (p * len(v) + 99) // 100)
    return v[rank - 1]


def lat(r):
    return max(r["latency_us"], 0)


def no_usage(r):
    """A 2xx answer (not a cache hit) that carried no usage: its cost is unknown.
    An unpriced model's request is counted as unpriced, not here."""
    return bool(r["cost_flags"] & 8) and not r["cost_flags"] & 2 and 200 <= r["status"] < 300 and not r["flags"] & 2


def priced(r):
    """Has a known cost: neither an unpriced model nor an answer without usage."""
    return not r["cost_flags"] & 2 and not no_usage(r)


def summary(recs):
    s = {
        "requests": len(recs),
        "cost_nusd": sum(r["cost_nusd"] for r in recs),
        "unpriced_requests": sum(1 for r in recs if r["cost_flags"] & 2),
        "estimated_requests": sum(1 for r in recs if r["cost_flags"] & 4),
        "no_usage_requests": sum(1 for r in recs if no_usage(r)),
        "tok_in": sum(r["tok_in"] for r in recs),
        "tok_out": sum(r["tok_out"] for r in recs),
        "tok_cached": sum(r["tok_cached"] for r in recs),
        "tok_reasoning": sum(r["tok_reasoning"] for r in recs),
        "tok_cw5m": sum(r["tok_cw5m"] for r in recs),
        "tok_cw1h": sum(r["tok_cw1h"] for r in recs),
        "errors": sum(1 for r in recs if is_error(r)),
        "cache_hits": sum(1 for r in recs if r["flags"] & 2),
        "saved_nusd": sum(r["saved_nusd"] for r in recs),
        "retried_requests": sum(1 for r in recs if r["retries"] > 0),
        "retries": sum(r["retries"] for r in recs if r["retries"] > 0),
        "fallbacks": sum(1 for r in recs if r["fallback_idx"] >= 0),
        # One vocabulary (agg.h): a block is never also a provider 429.
        "rate_limited": sum(1 for r in recs if not r["flags"] & (1 << 7)
                            and (r["status"] == 429 or r["flags"] & (1 << 11))),
        "ratelimit_blocked": sum(1 for r in recs if r["flags"] & (1 << 7) and r["error"].startswith("rate limit")),
        "budget_blocked": sum(1 for r in recs if r["flags"] & (1 << 7) and not r["error"].startswith("rate limit")),
        "blocked": sum(1 for r in recs if r["flags"] & (1 << 7)),
        "streamed": sum(1 for r in recs if r["flags"] & 1),
    }
    lats = [lat(r) for r in recs]
    ttfts = [r["ttft_us"] for r in recs if r["ttft_us"] >= 0]
    s["latency_us"] = {"p50": pct(lats, 50), "p95": pct(lats, 95), "p99": pct(lats, 99)}
    s["ttft_us"] = {"p50": pct(ttfts, 50), "p95": pct(ttfts, 95)}
    return s


def check_summary(got, recs, label):
    want = summary(recs)
    bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    ok(not bad, "%s: summary matches Python (%d fields)" % (label, len(want)), bad)
    n_priced = sum(1 for r in recs if priced(r))
    cpr = sum(r["cost_nusd"] for r in recs) / n_priced if n_priced else None
    g = got.get("cost_per_request_nusd", "missing")
    ok(g == cpr if cpr is None or g is None or g == "missing" else abs(g - cpr) <= 1e-9 * max(1.0, cpr),
       "%s: cost_per_request_nusd = cost / %d priced requests" % (label, n_priced), "got %r want %r" % (g, cpr))
    if want["requests"]:
        ok(abs(got["error_rate"] - want["errors"] / want["requests"]) < 1e-12, "%s: error rate" % label)
        ok(abs(got["cache_hit_rate"] - want["cache_hits"] / want["requests"]) < 1e-12, "%s: cache hit rate" % label)


def grouped(recs, key):
    g = {}
    for r in recs:
        g.setdefault(key(r), []).append(r)
    return g


def session_tree(recs):
    """path -> (requests, cost, latency sum, errors), totals including children."""
    nodes = {}

    def add(path, r):
        n = nodes.setdefault(path, [0, 0, 0, 0])
        n[0] += 1
        n[1] += r["cost_nusd"]
        n[2] += lat(r)
        n[3] += is_error(r)

    for r in recs:
        add("/", r)
        path = ""
        for seg in [s for s in r["session_path"].split("/") if s]:
            path += "/" + seg
            add(path, r)
    return nodes


def reassemble(body, provider):
    """Answer text of a streamed body, parsed the straightforward way."""
    text = ""
    if provider == "ollama":
        for line in body.splitlines():
            if line.strip():
                m = json.loads(line)
                text += m.get("message", {}).get("content", "")
        return text
    for block in body.replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(l[5:].lstrip(" ") for l in block.split("\n") if l.startswith("data:"))
        if not data or data == "[DONE]":
            continue
        m = json.loads(data)
        if "choices" in m:
            if m["choices"]:
                text += m["choices"][0].get("delta", {}).get("content", "") or ""
        elif m.get("type") == "content_block_delta" and m["delta"].get("type") == "text_delta":
            text += m["delta"]["text"]
        elif "candidates" in m:
            for part in m["candidates"][0]["content"]["parts"]:
                text += part.get("text", "")
    return text


def one_line_error(rc, err, name, needle=None):
    lines = [l for l in err.splitlines() if l.strip()]
    good = rc == 2 and len(lines) == 1 and lines[0].startswith("hc-analyze: ")
    if needle:
        good = good and needle in lines[0]
    ok(good, "%s: exit 2 with one clear line" % name, "rc=%d stderr=%r" % (rc, err))


def dump(store, table):
    """The table's keys and values (mdb_dump from lmdb-utils), or, without it,
    export --bodies output, which also reflects every byte that decodes."""
    if shutil.which("mdb_dump"):
        return subprocess.run(["mdb_dump", "-s", table, store], capture_output=True).stdout
    return run("export", "--db", store, "--bodies")[1].encode() if table == "records" else b"x" * 2000


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --- the tests ------------------------------------------------------------------------------

def main():
    if not os.access(ANA, os.X_OK) or not os.access(GEN, os.X_OK):
        print("not ok 1 - binaries built (%s, %s)" % (ANA, GEN))
        print("# 0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="hc-ana-test-")
    try:
        tests(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % (N_OK + N_FAIL))
    print("# %d passed, %d failed" % (N_OK, N_FAIL))
    return 1 if N_FAIL else 0


def tests(tmp):
    A = os.path.join(tmp, "a")
    gen(A, "--count", 3000, "--seed", 7, "--with-bodies", "--json-out", A + ".jsonl")
    recs = load(A + ".jsonl")
    eq(len(recs), 3000, "hc_gen wrote 3000 JSON lines")
    before = sha(os.path.join(A, "data.mdb"))

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

    # -- audit ------------------------------------------------------------------------------
    total = sum(r["cost_nusd"] for r in recs)
    errors = sum(1 for r in recs if is_error(r))
    p95 = pct([lat(r) for r in recs], 95)
    junit = os.path.join(tmp, "audit.xml")
    md = os.path.join(tmp, "audit.md")
    rc, out, _ = run("audit", "--db", A, "--max-cost", "%.9f" % (total / 1e9 + 1), "--max-requests", 3000,
                     "--max-error-rate", "%.4f%%" % (100.0 * errors / 3000 + 0.01), "--max-p95-ms", p95 // 1000 + 1,
                     "--junit", junit, "--markdown", md)
    ok(rc == 0 and "PASS" in out and "FAIL" not in out, "audit within limits: exit 0", out)
    tree = ET.parse(junit)
    cases = tree.getroot().findall(".//testcase")
    eq(len(cases), 4, "audit --junit: one testcase per check")
    eq(len(tree.getroot().findall(".//failure")), 0, "audit --junit: no failures when passing")
    rc, out, _ = run("audit", "--db", A, "--max-cost", "%.9f" % (total / 1e9 - 0.000000001), "--max-requests", 2999,
                     "--max-error-rate", "%d/%d" % (errors, 3000) if False else "%.6f" % ((errors - 1) / 3000),
                     "--max-p95-ms", p95 // 1000 + 1, "--junit", junit, "--markdown", md)
    eq(rc, 1, "audit over limits: exit 1")
    root = ET.parse(junit).getroot()
    failed = sorted(tc.get("name") for tc in root.findall(".//testcase") if tc.find("failure") is not None)
    eq(failed, ["max-cost", "max-error-rate", "max-requests"], "audit --junit: the failing checks listed")
    eq(root.find("testsuite").get("failures"), "3", "audit --junit: failures attribute")
    with open(md) as f:
        mdt = f.read()
    ok("| Check | Limit | Actual | Result |" in mdt and "❌ FAIL" in mdt and "max-p95-ms" in mdt, "audit --markdown: table written", mdt[-600:])
    # --max-p95-ms alone: fails one ms under the exact p95, passes at it (rounded up)
    rc, out, _ = run("audit", "--db", A, "--max-p95-ms", (p95 - 1) // 1000, "--junit", junit)
    ok(rc == 1 and "FAIL" in out, "audit --max-p95-ms %d under p95 %d us: exit 1" % ((p95 - 1) // 1000, p95), out)
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    eq(([tc.get("name") for tc in cases], root.find("testsuite").get("failures")), (["max-p95-ms"], "1"),
       "audit --junit: the failing p95 check listed as a failure")
    fail = cases[0].find("failure") if cases else None
    ok(fail is not None and "p95" in (fail.get("message") or "") + (fail.text or ""),
       "audit --junit: the p95 failure says why", ET.tostring(root)[:600])
    rc, aj, _ = run_json("audit", "--db", A, "--max-p95-ms", (p95 - 1) // 1000)
    eq((rc, aj["verdict"], aj["failed"], aj["checks"][0]["pass"], aj["checks"][0]["actual"]),
       (1, "fail", 1, False, p95 / 1000), "audit --json: p95 check fails with the exact p95 in ms")
    rc, aj, _ = run_json("audit", "--db", A, "--max-p95-ms", -(-p95 // 1000))
    eq((rc, aj["checks"][0]["pass"]), (0, True), "audit --max-p95-ms at the p95 rounded up passes")
    rc, aj, _ = run_json("audit", "--db", A, "--max-cost", "%.9f" % (total / 1e9))
    eq((rc, aj["verdict"], aj["checks"][0]["pass"]), (0, "pass", True), "audit: cost exactly at the limit passes")
    check_summary(aj["summary"], recs, "audit --json")
    # baseline from a report --json file and from another store
    basefile = os.path.join(tmp, "base.json")
    with open(basefile, "w") as f:
        f.write(run("report", "--db", A, "--json")[1])
    rc, out, _ = run("audit", "--db", A, "--baseline", basefile, "--max-increase", "0%")
    eq(rc, 0, "audit --baseline report.json: same cost passes --max-increase 0%")
    B = os.path.join(tmp, "b")
    gen(B, "--count", 2000, "--seed", 7, "--json-out", B + ".jsonl")
    base = sum(r["cost_nusd"] for r in load(B + ".jsonl"))
    inc = (total - base) / base
    rc, aj, _ = run_json("audit", "--db", A, "--baseline", B, "--max-increase", "%.6f" % (inc - 0.001))
    eq((rc, aj["checks"][0]["pass"]), (1, False), "audit --baseline STORE: increase %.1f%% over limit fails" % (inc * 100))
    ok(abs(aj["checks"][0]["actual"] - inc) < 1e-9, "audit --baseline: increase computed exactly")
    rc, aj, _ = run_json("audit", "--db", A, "--baseline", B, "--max-increase", "%.6f" % (inc + 0.001))
    eq(rc, 0, "audit --baseline STORE: within the allowed increase passes")
    rc, aj, _ = run_json("audit", "--db", B, "--baseline", basefile, "--max-increase", "0")
    eq(rc, 0, "audit: a cheaper run than the baseline passes")
    # hostile store path in JUnit / markdown
    H = os.path.join(tmp, 'h&<"x">')
    gen(H, "--count", 300, "--seed", 3, "--with-bodies", "--hostile", "--json-out", os.path.join(tmp, "h.jsonl"))
    hrecs = load(os.path.join(tmp, "h.jsonl"))
    rc, out, _ = run("audit", "--db", H, "--max-requests", 1, "--junit", junit)
    root = ET.parse(junit).getroot()
    eq((rc, root.find(".//property").get("value")), (1, H), "audit --junit: markup in the store path escaped")
    for args, needle in ((["--max-increase", "10%"], "--max-increase"), (["--baseline", basefile], "--baseline"),
                         ([], "no check"), (["--max-error-rate", "lots"], "--max-error-rate"),
                         (["--max-cost", "two"], "--max-cost"), (["--max-requests", "-1"], "--max-requests"),
                         (["--max-cost", "1", "--baseline", os.path.join(tmp, "nope.json"), "--max-increase", "1%"],
                          "nope.json")):
        rc, out, err = run("audit", "--db", A, *args)
        one_line_error(rc, err, "audit %s" % " ".join(args), needle)
    rc, out, err = run("audit", "--db", os.path.join(tmp, "missing"), "--max-cost", "1")
    one_line_error(rc, err, "audit on a missing store", "missing")

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
    sys.exit(main())
