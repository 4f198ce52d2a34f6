"""anafix — the shared fixture of the hc-analyze integration tests
(tests/integ/test_analyzer_*.py, one file per command or concern).

hc-analyze runs against stores written by hc_gen, and every number is checked
against values computed independently here, in Python, from hc_gen's
--json-out. This module gives each test file:

  T, ok, eq      the shared TAP producer (hctest.TAP) and its assertions
  run…, gen      hc-analyze (from $HC_BUILD, or the ASan build under `make
                 check`) and the record generator, without the shim or network
  summary…       the independent computations (percentiles, summaries, groups)
  main(tests, …) the runner: a temporary directory, the stores a file asks for
                 (the 3000-record store A every file reads; B; the hostile H),
                 the file's tests, a check that A was never modified, the TAP
                 plan and "# N passed, N failed"; exit 1 on any failure
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hctest import TAP  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HC_BUILD", os.path.join(ROOT, "build"))
ANA = os.path.join(BUILD, "hc-analyze")
GEN = os.path.join(BUILD, "tools", "hc_gen")
# Under `make check` the runner also names an ASan+UBSan build: run hc-analyze
# from it when it is there (the generator is a test tool, from the main build).
if os.environ.get("HC_ASAN_BUILD") and os.access(os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze"), os.X_OK):
    ANA = os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze")

T = TAP()
ok = T.ok
eq = T.eq


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




# --- the fixture stores and the runner ---------------------------------------------------------

class Stores:
    """The stores a test file reads, generated once per file in tmp."""

    def __init__(self, tmp, want_b=False, want_h=False):
        self.tmp = tmp
        self.A = os.path.join(tmp, "a")
        gen(self.A, "--count", 3000, "--seed", 7, "--with-bodies", "--json-out", self.A + ".jsonl")
        self.recs = load(self.A + ".jsonl")
        eq(len(self.recs), 3000, "hc_gen wrote 3000 JSON lines")
        self.before = sha(os.path.join(self.A, "data.mdb"))
        if want_b:  # the same generator seed as A, 2000 records, no bodies
            self.B = os.path.join(tmp, "b")
            gen(self.B, "--count", 2000, "--seed", 7, "--json-out", self.B + ".jsonl")
        if want_h:  # hostile content: escapes, markup and control bytes in every field, and in its path
            self.H = os.path.join(tmp, 'h&<"x">')
            gen(self.H, "--count", 300, "--seed", 3, "--with-bodies", "--hostile", "--json-out",
                os.path.join(tmp, "h.jsonl"))
            self.hrecs = load(os.path.join(tmp, "h.jsonl"))


def main(tests, want_b=False, want_h=False):
    """Run tests(tmp, stores) and print the TAP plan; the process exit status."""
    if not os.access(ANA, os.X_OK) or not os.access(GEN, os.X_OK):
        print("not ok 1 - binaries built (%s, %s)" % (ANA, GEN))
        print("# 0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="hc-ana-test-")
    try:
        st = Stores(tmp, want_b, want_h)
        tests(tmp, st)
        eq(sha(os.path.join(st.A, "data.mdb")), st.before, "store A unchanged by this file's read commands")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return T.done()
