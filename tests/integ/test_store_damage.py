#!/usr/bin/python3
"""Damaged stores never crash the app or hc-analyze (issue 14, items 1 and 2).

A corruption fuzzer: a real store (written by the C generators tests/tools/
hc_gen and hc_gen_cache, then pruned, so it has a free list, overflow bodies
and several tables) is copied and damaged in many seeded ways — truncated
(anywhere, page-aligned or not, below the meta pages, to nothing), pages
zeroed (anywhere, or among the last pages where LMDB keeps the newest roots),
bytes flipped (anywhere in a page, or in its header), a page overwritten by
another, a meta page damaged, data.mdb replaced by a FIFO.

- hc-analyze: EVERY command runs on each damaged copy (the writing ones on
  their own copy): never a signal, never a hang (timeout); exit 0/1 with
  output, or 2 with one line naming the store. When `check` says the store is
  damaged, every command that reads it exits 2; when it says sound, they work.
- the app: curl and python3 (urllib; half of them with HC_CACHE=1, which
  reads the store on the request's path) under the shim with HC_DB on a damaged
  copy: exit status and output equal the baseline (the same program without
  the shim, sent to the mock directly), every time; the shim
  says once on stderr that the store is damaged.
- a store truncated while a program has it open: the next write is refused,
  reported once, and the program's later calls still succeed.
- check / salvage on a known damage: what is wrong where; what can be read
  is copied, the copy checks sound, the counts add up.

Counts and seed: HC_DAMAGE_CASES (analyzer cases, default 25),
HC_DAMAGE_APP_CASES (app cases, default 60), HC_DAMAGE_SEED (default 14).
Each case prints its kind and seed, so a failure is reproducible.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, BUILD, PYTHON, TAP, World  # noqa: E402

SEED = int(os.environ.get("HC_DAMAGE_SEED", "14"))
N_ANA = int(os.environ.get("HC_DAMAGE_CASES", "25"))
N_APP = int(os.environ.get("HC_DAMAGE_APP_CASES", "60"))
GEN = os.path.join(BUILD, "tools", "hc_gen")
GEN_CACHE = os.path.join(BUILD, "tools", "hc_gen_cache")
PSIZE = 4096
TIMEOUT = 20
ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}

CALL = r"""
import json, sys, urllib.request, urllib.error
url = sys.argv[1] if len(sys.argv) > 1 else "https://api.openai.com/v1/chat/completions"
for i in range(2):
    req = urllib.request.Request(url,
        data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "damage %d" % i}]}).encode(),
        headers={"Authorization": "Bearer sk-test-key", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        print(r.status, r.read().decode())
"""


LIVE = r"""
import json, os, sys, time, urllib.request
url, n, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    req = urllib.request.Request(url,
        data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "live %d" % i}]}).encode(),
        headers={"Authorization": "Bearer sk-test-key", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        print(r.status, r.read().decode())
    if i == 0:
        time.sleep(0.5)  # the first record is written
        os.truncate(os.path.join(db, "data.mdb"), 8192)
"""


def make_base(dirpath):
    db = os.path.join(dirpath, "base")
    for i, (n, bodies) in enumerate(((300, True), (200, False), (150, True))):
        args = [GEN, "--db", db, "--count", str(n), "--seed", str(i + 1), "--start", str(1790000000 + i * 86400 * 40)]
        if bodies:
            args.append("--with-bodies")
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=ENV)
    subprocess.run([GEN_CACHE, "--db", db, "--groups", "20", "--ratelimit", "10"], check=True,
                   stdout=subprocess.DEVNULL, env=ENV)
    # Deletes give the store a free list.
    subprocess.run([ANALYZE, "prune", "--db", db, "--user", "user-02"], check=True, capture_output=True, env=ENV)
    return db


def damage(rng, src, dst):
    """Copy store src to dst and damage dst/data.mdb; returns a description."""
    shutil.copytree(src, dst)
    path = os.path.join(dst, "data.mdb")
    size = os.path.getsize(path)
    pages = size // PSIZE
    kind = rng.choice(["truncate", "truncate-page", "truncate-meta", "truncate-zero", "zero-page", "zero-tail",
                       "flip", "flip-header", "flip-many", "copy-page", "garbage-page", "meta", "fifo"])
    with open(path, "r+b") as f:
        if kind == "truncate":
            n = rng.randrange(PSIZE * 2, size)
            f.truncate(n)
            return "%s to %d bytes" % (kind, n)
        if kind == "truncate-page":
            n = rng.randrange(2, pages) * PSIZE
            f.truncate(n)
            return "%s to %d bytes" % (kind, n)
        if kind == "truncate-meta":
            n = rng.randrange(1, PSIZE * 2)
            f.truncate(n)
            return "%s to %d bytes" % (kind, n)
        if kind == "truncate-zero":
            f.truncate(0)
            return kind
        if kind in ("zero-page", "zero-tail", "garbage-page"):
            lo = max(2, pages - 12) if kind == "zero-tail" else 2
            pg = rng.randrange(lo, pages)
            f.seek(pg * PSIZE)
            f.write(bytes(PSIZE) if kind != "garbage-page" else bytes(rng.randrange(256) for _ in range(PSIZE)))
            return "%s %d" % (kind, pg)
        if kind == "copy-page":
            a, b = rng.randrange(2, pages), rng.randrange(2, pages)
            f.seek(a * PSIZE)
            data = f.read(PSIZE)
            f.seek(b * PSIZE)
            f.write(data)
            return "%s %d over %d" % (kind, a, b)
        if kind in ("flip", "flip-header", "flip-many", "meta"):
            spots = []
            count = rng.randrange(8, 64) if kind == "flip-many" else rng.randrange(1, 4)
            for _ in range(count):
                if kind == "meta":
                    off = rng.randrange(0, 2) * PSIZE + rng.randrange(0, 16 + 136)
                elif kind == "flip-header":
                    off = rng.randrange(2, pages) * PSIZE + rng.randrange(0, 16)
                else:
                    off = rng.randrange(2 * PSIZE, size)
                f.seek(off)
                b = f.read(1)[0]
                f.seek(off)
                f.write(bytes([b ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)]))
                spots.append(off)
            return "%s at %s" % (kind, ",".join(map(str, spots[:6])))
    # fifo
    os.unlink(path)
    os.mkfifo(path)
    return "fifo"


# Commands that only read (run on one damaged copy) and that write (each on its own copy).
READS = [
    ["stats"], ["requests"], ["requests", "--json"], ["show", "0"], ["report"], ["report", "--json"],
    ["users"], ["sessions"], ["audit", "--max-cost", "100000"], ["export"], ["export", "--format", "otlp"],
    ["export", "--format", "csv"], ["html", "-o", "{tmp}/d.html"], ["prices", "--json"], ["cache"],
    ["ratelimits"], ["prune", "--older-than", "1d", "--dry-run"],
]
WRITES = [
    ["compact"], ["compact", "-o", "{tmp}/compacted"], ["prune", "--older-than", "100000d"],
    ["cache", "clear", "--all"], ["import", "{tmp}/one.jsonl"], ["salvage", "{tmp}/salvaged"],
]


def run_cmd(argv, db, tmp):
    argv = [a.replace("{tmp}", tmp) for a in argv]
    if argv[0] == "merge":
        full = [ANALYZE] + argv
    else:
        full = [ANALYZE] + argv + ["--db", db]
    try:
        r = subprocess.run(full, capture_output=True, text=True, timeout=TIMEOUT, env=ENV, errors="replace")
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return "timeout", "", ""


def run_serve(db):
    p = subprocess.Popen([ANALYZE, "serve", "--port", "0", "--db", db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=ENV, errors="replace")
    try:
        out, err = p.communicate(timeout=3)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=TIMEOUT)
        return ("serving" if "serving on" in out else "hang"), out, err


def analyzer_fuzz(t, base, work):
    rng = random.Random(SEED)
    rc, out, _ = run_cmd(["export", "--format", "jsonl"], base, work)
    with open(os.path.join(work, "one.jsonl"), "w") as f:
        f.write(out.splitlines()[0] + "\n")
    first_id = json.loads(out.splitlines()[0])["id"]
    kinds = {}
    for case in range(N_ANA):
        tmp = tempfile.mkdtemp(dir=work)
        shutil.copy(os.path.join(work, "one.jsonl"), tmp)
        db = os.path.join(tmp, "db")
        what = damage(rng, base, db)
        kinds[what.split()[0]] = kinds.get(what.split()[0], 0) + 1
        bad = []
        rcheck, cout, cerr = run_cmd(["check"], db, tmp)
        damaged = rcheck == 2
        results = [(["check"], rcheck, cout, cerr)]
        for argv in READS:
            argv = [first_id if a == "0" else a for a in argv]
            results.append((argv, *run_cmd(argv, db, tmp)))
        results.append((["serve"], *run_serve(db)))
        for argv in WRITES + [["merge", "{tmp}/merged", db]]:
            copy = os.path.join(tmp, "w")
            shutil.rmtree(copy, ignore_errors=True)
            if what == "fifo":
                os.makedirs(copy)
                os.mkfifo(os.path.join(copy, "data.mdb"))
            else:
                shutil.copytree(db, copy)
            for d in ("compacted", "salvaged", "merged"):
                shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)
            a = [copy if x == db else x for x in argv]
            results.append((a, *run_cmd(a, copy, tmp)))
        for argv, rc, out, err in results:
            name = " ".join(argv[:2])
            if not isinstance(rc, int) and not (argv == ["serve"] and rc == "serving"):
                bad.append("%s: %s" % (name, rc))
            elif isinstance(rc, int) and rc < 0:
                bad.append("%s: killed by signal %d; stderr: %s" % (name, -rc, err[-300:]))
            elif isinstance(rc, int) and rc not in (0, 1, 2):
                bad.append("%s: exit %d" % (name, rc))
            elif rc == 2 and db not in err and os.path.join(tmp, "w") not in err:
                bad.append("%s: exit 2 without naming the store: %s" % (name, err[-300:]))
            elif rc == 2 and err.count("\n") > 1 + (argv[0] == "check"):
                bad.append("%s: more than one line on stderr: %s" % (name, err[-300:]))
            elif argv[0] in ("salvage",):
                if rc != 0:
                    bad.append("salvage: exit %d: %s" % (rc, err[-300:]))
            elif what == "truncate-zero" and argv[0] in ("import", "prune", "cache") and rc == 0:
                pass  # an empty data.mdb is a new store to LMDB: a writer initialises it (as the shim does)
            elif argv[0] in ("import",) and damaged and rc != 2:
                bad.append("import into a damaged store: exit %d" % rc)
            elif damaged and argv[0] not in ("check", "merge", "import") and rc not in (2,) and rc != "hang":
                if not (argv[0] == "serve" and rc == 2):
                    bad.append("%s: check says damaged, but it exits %s" % (name, rc))
            elif not damaged and rc == 2 and argv[0] not in ("compact",):
                bad.append("%s: check says sound, but it fails: %s" % (name, err[-300:]))
        t.ok(not bad, "analyzer case %d (seed %d): %s: check %s, every command: no signal, no hang, exit 2 naming "
             "the store or a result" % (case, SEED, what, "damaged" if damaged else "sound"), "\n".join(bad))
        shutil.rmtree(tmp, ignore_errors=True)
    t.diag("analyzer damage kinds: %s" % kinds)


def app_fuzz(t, w, base, work):
    """curl and python3 under the shim on damaged stores: same as without the shim."""
    mock = w.mock
    url = "https://api.openai.com/v1/chat/completions"
    body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"damaged store"}]}'
    curl_args = ["curl", "-sS", "-H", "Authorization: Bearer sk-test", "-H", "Content-Type: application/json",
                 "-d", body, url]
    baseline_env = dict(ENV, NO_PROXY="*", no_proxy="*")
    mock.reset()
    # Without the shim the same request goes to the mock directly (its
    # answer depends only on the request and its counter, rewound by reset).
    b_curl = subprocess.run(curl_args[:-1] + [mock.url + "/v1/chat/completions", "--cacert", w.pki["ca"]],
                            capture_output=True, text=True, env=baseline_env)
    mock.reset()
    b_py = subprocess.run([PYTHON, "-c", CALL, mock.url + "/v1/chat/completions"], capture_output=True, text=True,
                          env=dict(baseline_env, SSL_CERT_FILE=w.pki["ca"]))
    t.ok(b_curl.returncode == 0 and '"choices"' in b_curl.stdout and b_py.returncode == 0 and
         b_py.stdout.count("200 ") == 2, "baselines without the shim: curl and python3 get their answers",
         b_curl.stderr + b_py.stderr)
    rng = random.Random(SEED + 1)
    diffs = []
    told = 0
    kinds = {}
    for case in range(N_APP):
        db = os.path.join(work, "app%d" % case)
        what = damage(rng, base, db)
        kinds[what.split()[0]] = kinds.get(what.split()[0], 0) + 1
        curl = case % 2 == 0
        mock.reset()
        try:
            if curl:
                r = w.run(curl_args, timeout=TIMEOUT, HC_DB=db)
                base_r = b_curl
            else:
                # Half of them with the response cache on: it reads the store on the request's path.
                r = w.run([PYTHON, "-c", CALL], timeout=TIMEOUT, HC_DB=db, HC_CACHE=1 if case % 4 == 1 else 0)
                base_r = b_py
            got = (r.returncode, r.stdout)
        except subprocess.TimeoutExpired:
            got = ("timeout", "")
            r = None
        if got != (base_r.returncode, base_r.stdout):
            diffs.append("case %d (%s, %s): got %r, baseline %r; stderr %s" %
                         (case, "curl" if curl else "python3", what, got[0], base_r.returncode,
                          (r.stderr[-400:] if r else "")))
        elif r is not None:
            rc, _, _ = run_cmd(["check"], db, work)
            if rc == 2:
                lines = [ln for ln in r.stderr.splitlines() if "damaged store" in ln or "FIFO" in ln]
                if len(lines) == 1 and db in lines[0]:
                    told += 1
                else:
                    diffs.append("case %d (%s): damaged, but the shim said %r" % (case, what, r.stderr[-400:]))
        shutil.rmtree(db, ignore_errors=True)
    t.ok(not diffs, "%d damaged stores (seed %d) under curl and python3: exit status and output equal the "
         "baseline every time, and every damaged store is reported once on stderr (%d reports)" %
         (N_APP, SEED + 1, told), "\n".join(diffs[:20]))
    t.diag("app damage kinds: %s" % kinds)


def truncated_while_open(t, w, base, work):
    """A store truncated while the program has it open: refused, told once, calls go on."""
    db = os.path.join(work, "live")
    shutil.copytree(base, db)
    script = LIVE
    r = w.run([PYTHON, "-c", script, "https://api.openai.com/v1/chat/completions", "4", db], timeout=60, HC_DB=db)
    said = [ln for ln in r.stderr.splitlines() if "shrank" in ln]
    t.ok(r.returncode == 0 and r.stdout.count("200 ") == 4 and len(said) == 1 and db in said[0],
         "a store truncated while in use: the program's 4 calls succeed, the shim says once that it shrank",
         "rc %d\n%s\n%s" % (r.returncode, r.stdout[-300:], r.stderr[-800:]))


def check_and_salvage(t, base, work):
    db = os.path.join(work, "known")
    shutil.copytree(base, db)
    r = subprocess.run([ANALYZE, "check", "--db", db], capture_output=True, text=True, env=ENV)
    t.ok(r.returncode == 0 and r.stdout.startswith(db + ": ok (") and not r.stderr,
         "check on a sound store: exit 0, one line 'ok'", r.stdout + r.stderr)
    rj = subprocess.run([ANALYZE, "check", "--json", "--db", db], capture_output=True, text=True, env=ENV)
    doc = json.loads(rj.stdout)
    t.ok(doc["ok"] is True and doc["problems"] == [] and doc["pages_checked"] > 10, "check --json: ok, no problems",
         rj.stdout)
    want = subprocess.run([ANALYZE, "export", "--db", db, "--bodies"], capture_output=True, text=True,
                          env=ENV).stdout.splitlines()
    # Zero one leaf page of the records table: find it with check's own output after zeroing candidates.
    size = os.path.getsize(os.path.join(db, "data.mdb"))
    hit = None
    for pg in range(2, size // PSIZE):
        trial = os.path.join(work, "trial")
        shutil.rmtree(trial, ignore_errors=True)
        shutil.copytree(db, trial)
        with open(os.path.join(trial, "data.mdb"), "r+b") as f:
            f.seek(pg * PSIZE)
            f.write(bytes(PSIZE))
        r = subprocess.run([ANALYZE, "check", "--db", trial], capture_output=True, text=True, env=ENV)
        if "(records): bad header" in r.stdout:
            hit = (pg, r)
            break
    t.ok(hit is not None, "a zeroed leaf page of the records table is found by check", "")
    if not hit:
        return
    pg, r = hit
    t.ok(r.returncode == 2 and ("%s: page %d (records): bad header (page number 0, flags 0x0; expected a leaf page)"
                                % (trial, pg)) in r.stdout and r.stderr.count("\n") == 1 and trial in r.stderr,
         "check names the store, the page, the table and what is wrong; exit 2, one line on stderr",
         r.stdout + r.stderr)
    out = os.path.join(work, "rescued")
    s = subprocess.run([ANALYZE, "salvage", out, "--json", "--db", trial], capture_output=True, text=True, env=ENV)
    doc = json.loads(s.stdout) if s.returncode == 0 else {}
    t.ok(s.returncode == 0 and doc.get("damaged") is True and doc["records_lost"] > 0 and
         doc["records_saved"] + doc["records_lost"] == len(want),
         "salvage: saved + lost = the records the store held (%d), some lost" % len(want), s.stdout + s.stderr)
    c = subprocess.run([ANALYZE, "check", "--db", out], capture_output=True, text=True, env=ENV)
    t.ok(c.returncode == 0, "the rescued store checks sound", c.stdout + c.stderr)
    got = subprocess.run([ANALYZE, "export", "--db", out, "--bodies"], capture_output=True, text=True,
                         env=ENV).stdout.splitlines()
    t.ok(len(got) == doc.get("records_saved") and set(got) <= set(want),
         "every rescued record (with its bodies) is exactly as it was in the store", "%d rescued" % len(got))
    s2 = subprocess.run([ANALYZE, "salvage", out, "--db", trial], capture_output=True, text=True, env=ENV)
    t.ok(s2.returncode == 2 and out in s2.stderr and "exists" in s2.stderr, "salvage refuses an existing OUT: exit 2",
         s2.stderr)
    s3 = subprocess.run([ANALYZE, "salvage", "--db", trial], capture_output=True, text=True, env=ENV)
    t.ok(s3.returncode == 2 and "OUT" in s3.stderr, "salvage without OUT: exit 2, says what is expected", s3.stderr)


def section(t, fn, *args):
    """One part of the test; an exception there is one failure, not the end of the run."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001
        import traceback
        t.ok(False, "%s ran to the end" % fn.__name__, traceback.format_exc())


def main():
    t = TAP()
    work = tempfile.mkdtemp(prefix="hc-damage-")
    try:
        base = make_base(work)
        section(t, check_and_salvage, t, base, work)
        section(t, analyzer_fuzz, t, base, work)
        with World(http_mock=False) as w:
            section(t, app_fuzz, t, w, base, work)
            section(t, truncated_while_open, t, w, base, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
