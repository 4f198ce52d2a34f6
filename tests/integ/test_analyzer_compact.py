#!/usr/bin/python3
"""hc-analyze compact: deleted data leaves the file, live data stays, and no
program recording beside it loses a record.

- After prune, a pruned record's bytes are still in data.mdb (LMDB frees pages
  without wiping them); after compact they are gone, the kept records are all
  there, and the file is no bigger.
- While another process has the store open, compact in place refuses (exit 2,
  one line saying so) and changes nothing; `-o DIR` still writes a copy.
- Short-lived programs under the shim (curl) recording while compact runs
  again and again: every record they made is in the final store.
"""
import hashlib
import os
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, CLIENTS, PYTHON, TAP, World  # noqa: E402


def curl_call(w, tag):
    body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
    return w.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "https://api.openai.com/v1/chat/completions",
                  "-H", "Authorization: Bearer sk-test", "-H", "Content-Type: application/json",
                  "-H", "Helicone-Property-Tag: " + tag, "-d", body], timeout=30)


def compact(*args):
    return subprocess.run([ANALYZE, "compact"] + list(args), capture_output=True, text=True)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tags(w):
    return sorted(r.get("props", {}).get("Tag", "") for r in w.records())


def main():
    t = TAP()
    with World(http_mock=False) as w:
        data = os.path.join(w.db, "data.mdb")

        # 1. Pruned bytes stay in the file until compact.
        old = ["OLD-%s" % uuid.uuid4().hex for _ in range(5)]
        new = ["NEW-%s" % uuid.uuid4().hex for _ in range(2)]
        codes = [curl_call(w, m).stdout for m in old]
        time.sleep(4)
        codes += [curl_call(w, m).stdout for m in new]
        t.eq(codes, ["200"] * 7, "seven calls through the shim answered")
        t.eq(len(w.records(wait_for=7)), 7, "seven records")
        w.analyze("prune", "--older-than", "3s")
        t.eq(tags(w), sorted(new), "prune removed the five old records, kept the two new")
        stored = w.store_bytes()
        t.ok(any(m.encode() in stored for m in old),
             "after prune, a pruned record's bytes are still in the store files (freed, not wiped)")
        before = os.path.getsize(data)
        r = compact("--db", w.db)
        t.ok(r.returncode == 0 and "compacted" in r.stdout, "compact in place succeeds", r.stdout + r.stderr)
        stored = w.store_bytes()
        t.ok(not any(m.encode() in stored for m in old), "after compact, no pruned record's bytes remain")
        t.ok(all(m.encode() in stored for m in new), "the kept records' bytes are there")
        t.eq(tags(w), sorted(new), "hc-analyze reads the compacted store: the same two records")
        t.ok(os.path.getsize(data) <= before, "data.mdb did not grow (%d -> %d bytes)" % (before, os.path.getsize(data)))
        t.eq(oct(os.stat(w.db).st_mode & 0o777), "0o700", "the compacted store directory is 0700")
        t.eq(oct(os.stat(data).st_mode & 0o777), "0o600", "the compacted data.mdb is 0600")
        t.ok(not [n for n in os.listdir(w.dir) if ".compact." in n], "no temporary directory left beside the store")
        t.eq(curl_call(w, "AFTER").stdout, "200", "a program records into the compacted store")
        t.eq(tags(w), sorted(new + ["AFTER"]), "its record is there")

        # 2. In use by another process: refused, nothing changed; -o still works.
        holder = subprocess.Popen([PYTHON, os.path.join(CLIENTS, "fault_lmdb_reader.py"), w.db],
                                  stdout=subprocess.PIPE, text=True)
        try:
            line = holder.stdout.readline()
            t.ok(line.startswith("holding"), "a reader holds the store open", line)
            digest = sha(data)
            r = compact("--db", w.db)
            t.ok(r.returncode == 2 and "in use" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
                 "compact in place while another process has the store open: exit 2, one line", r.stderr)
            t.eq(sha(data), digest, "refused compact changed nothing")
            copy = os.path.join(w.dir, "copy")
            r = compact("--db", w.db, "-o", copy, "--json")
            t.ok(r.returncode == 0 and '"in_place": false' in r.stdout, "compact -o DIR works beside the reader",
                 r.stdout + r.stderr)
            r = subprocess.run([ANALYZE, "requests", "--json", "--db", copy], capture_output=True, text=True)
            t.ok(r.returncode == 0 and r.stdout.count('"Tag"') == 3, "the copy holds the three records", r.stdout[-300:])
            r = compact("--db", w.db, "-o", copy)
            t.ok(r.returncode == 2 and "already exists" in r.stderr, "-o onto an existing directory: refused", r.stderr)
        finally:
            holder.kill()
            holder.wait()

        # 3. Programs recording while compact runs again and again.
        w.reset_store()
        stop = threading.Event()
        results = {"ok": 0, "busy": 0, "other": []}

        def compactor():
            while not stop.is_set():
                if os.path.exists(data):
                    r = compact("--db", w.db)
                    if r.returncode == 0:
                        results["ok"] += 1
                    elif "in use" in r.stderr:
                        results["busy"] += 1
                    else:
                        results["other"].append(r.stderr.strip())
                time.sleep(0.01)

        th = threading.Thread(target=compactor)
        th.start()
        want = ["RACE-%02d" % i for i in range(24)]
        try:
            codes = [curl_call(w, m).stdout for m in want]
        finally:
            stop.set()
            th.join()
        t.diag("compactions: %d done, %d refused (in use)" % (results["ok"], results["busy"]))
        t.eq(codes, ["200"] * len(want), "every call answered while compact ran")
        t.eq(results["other"], [], "compact never failed other than 'in use'")
        t.ok(results["ok"] > 0, "compact ran between the programs at least once", results)
        t.eq(tags(w), want, "every record of every program is in the final store")
        r = compact("--db", w.db, "--json")
        t.ok(r.returncode == 0, "a final compact succeeds", r.stderr)
        t.eq(tags(w), want, "and keeps them all")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
