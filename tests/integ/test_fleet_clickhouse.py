#!/usr/bin/python3
"""hc-analyze ship: a fleet's stores shipped to one real ClickHouse server
(Debian's clickhouse-server, started here on 127.0.0.1 with its own config and
data directory) give the same numbers as a local merge, and faults of the
server lose or double nothing.

- Three hosts (separate stores written by hc_gen, shipped by three processes at
  once): count, cost, token sums, per-user counts, a property breakdown and
  rate-limit headers in ClickHouse equal the local merge of the same stores.
- A second ship sends nothing; the same records shipped again from another
  store (a merge copy) collapse: DB.records still counts each id once.
- ClickHouse killed (-9) mid-ship and restarted: the shipper retries, finishes,
  and every record is there exactly once; a new run sends nothing.
- Server unreachable: exit 1 after --retry-for, cursor kept (a later ship
  sends everything); a password never appears in output or in the store.
- prune --shipped deletes only what was acknowledged, never recent records
  behind the settle horizon; --follow ships records written while it runs.
- Misuse exits 2 naming the bad value.
Skips (TAP "# SKIP") only when clickhouse-server cannot be started at all.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, BUILD, TAP  # noqa: E402

GEN = os.path.join(BUILD, "tools", "hc_gen")
SERVER = shutil.which("clickhouse-server") or shutil.which("clickhouse")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClickHouse:
    """One clickhouse-server on 127.0.0.1 with its own config and data dir."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "ch")
        os.makedirs(self.dir)
        self.http = free_port()
        tcp = free_port()
        d = self.dir
        with open(os.path.join(d, "config.xml"), "w") as f:
            f.write("""<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%(d)s/log.txt</log><errorlog>%(d)s/err.txt</errorlog><console>0</console></logger>
  <http_port>%(http)d</http_port><tcp_port>%(tcp)d</tcp_port><listen_host>127.0.0.1</listen_host>
  <path>%(d)s/data/</path><tmp_path>%(d)s/tmp/</tmp_path><user_files_path>%(d)s/uf/</user_files_path>
  <format_schema_path>%(d)s/fs/</format_schema_path>
  <users_config>%(d)s/users.xml</users_config><default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>5368709</mark_cache_size><uncompressed_cache_size>8589934</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
""" % {"d": d, "http": self.http, "tcp": tcp})
        with open(os.path.join(d, "users.xml"), "w") as f:
            f.write("""<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
""")
        self.proc = None

    def start(self, wait=60):
        cmd = [SERVER] + (["server"] if SERVER.endswith("/clickhouse") else []) + \
              ["--config-file=" + os.path.join(self.dir, "config.xml")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        end = time.time() + wait
        while time.time() < end:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.http, timeout=2) as r:
                    if r.read().strip() == b"Ok.":
                        return True
            except (OSError, urllib.error.URLError):
                time.sleep(0.3)
        return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def q(self, sql):
        req = urllib.request.Request("http://127.0.0.1:%d/" % self.http, data=sql.encode())
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()

    def rows(self, sql):
        return [line.split("\t") for line in self.q(sql).splitlines()]

    def url(self, db):
        return "clickhouse://127.0.0.1:%d/%s" % (self.http, db)


def ana(*args, timeout=180):
    return subprocess.run([ANALYZE] + list(args), capture_output=True, text=True, timeout=timeout)


def gen(db, count, seed, *extra):
    subprocess.run([GEN, "--db", db, "--count", str(count), "--seed", str(seed)] + list(extra),
                   check=True, capture_output=True)


def export(db):
    p = ana("export", "--db", db, "--format", "jsonl")
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def local_totals(recs):
    out = {"n": len(recs), "cost": 0, "tok_in": 0, "tok_out": 0, "users": {}, "workflow": {}, "rl": 0}
    for r in recs:
        out["cost"] += r["cost_nusd"]
        out["tok_in"] += r["tok_in"]
        out["tok_out"] += r["tok_out"]
        out["users"][r["user"]] = out["users"].get(r["user"], 0) + 1
        w = r["props"].get("Workflow", "")
        out["workflow"][w] = out["workflow"].get(w, 0) + r["cost_nusd"]
        out["rl"] += len(r["ratelimit"])
    return out


def remote_totals(ch, db):
    n, cost, tin, tout, rl = ch.rows("SELECT count(), sum(cost_nusd), sum(tok_in), sum(tok_out), "
                                     "sum(length(ratelimit.name)) FROM %s.records" % db)[0]
    users = {u: int(c) for u, c in ch.rows("SELECT user, count() FROM %s.records GROUP BY user" % db)}
    wf = {w: int(c) for w, c in ch.rows("SELECT props.value[indexOf(props.name, 'Workflow')] AS w, "
                                         "sum(cost_nusd) FROM %s.records GROUP BY w" % db)}
    return {"n": int(n), "cost": int(cost), "tok_in": int(tin), "tok_out": int(tout), "users": users,
            "workflow": wf, "rl": int(rl)}


def count_final(ch, db):
    n, u = ch.rows("SELECT count(), uniqExact(id) FROM %s.records" % db)[0]
    return int(n), int(u)


def main():
    t = TAP()
    tmp = tempfile.mkdtemp(prefix="hc-fleet-")
    ch = ClickHouse(tmp)
    try:
        if not SERVER or not ch.start():
            print("ok 1 - # SKIP clickhouse-server cannot be started on this machine")
            print("1..1")
            return 0
        stores = [os.path.join(tmp, "host%d" % i) for i in range(3)]
        for i, s in enumerate(stores):
            gen(s, 1500 + 500 * i, 10 + i, "--with-bodies")

        # 1. Three hosts ship at once; ClickHouse equals the local merge.
        procs = [subprocess.Popen([ANALYZE, "ship", "--db", s, "--to", ch.url("fleet"), "--origin", "host%d" % i,
                                   "--batch", "400", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for i, s in enumerate(stores)]
        outs = [p.communicate(timeout=180) for p in procs]
        t.eq([p.returncode for p in procs], [0, 0, 0], "three hosts shipped at once (exit 0)")
        shipped = [json.loads(o[0])["records"] if o[0].strip() else None for o in outs]
        t.eq(shipped, [1500, 2000, 2500], "each shipper reports its store's record count")
        merged = os.path.join(tmp, "merged")
        t.eq(ana("merge", merged, *stores).returncode, 0, "local merge of the three stores")
        local = local_totals(export(merged))
        remote = remote_totals(ch, "fleet")
        for k in ("n", "cost", "tok_in", "tok_out", "rl"):
            t.eq(remote[k], local[k], "ClickHouse %s equals the local merge's (%s)" % (k, local[k]))
        t.eq(remote["users"], local["users"], "per-user counts equal the local merge's")
        t.eq(remote["workflow"], local["workflow"], "cost by property Workflow equals the local merge's")
        per_origin = {o: int(c) for o, c in ch.rows("SELECT origin, count() FROM fleet.records GROUP BY origin")}
        t.eq(per_origin, {"host0": 1500, "host1": 2000, "host2": 2500}, "rows carry the host they came from")
        t.eq(ch.rows("SELECT max(version) FROM fleet.hc_schema"), [["1"]], "schema version 1 recorded once created")
        rep = json.loads(ana("report", "--db", merged, "--json").stdout)["summary"]
        t.eq((rep["requests"], rep["cost_nusd"]), (remote["n"], remote["cost"]),
             "hc-analyze report on the merge gives ClickHouse's requests and cost")

        # 2. Nothing new: nothing sent; the same ids sent again collapse.
        p = ana("ship", "--db", stores[0], "--to", ch.url("fleet"), "--json")
        t.eq((p.returncode, json.loads(p.stdout)["records"]), (0, 0), "a second ship sends nothing")
        t.ok("json" not in p.stderr and p.stderr == "", "a second ship is silent on stderr", p.stderr)
        copy = os.path.join(tmp, "copy0")
        ana("merge", copy, stores[0])
        p = ana("ship", "--db", copy, "--to", ch.url("fleet"), "--origin", "host0", "--json")
        t.eq((p.returncode, json.loads(p.stdout)["records"] if p.stdout else None), (0, 1500),
             "a copy of host0 (no cursor) sends its 1500 records again")
        t.eq(count_final(ch, "fleet"), (6000, 6000), "re-sent rows collapse: DB.records still counts 6000 ids once")
        t.eq(remote_totals(ch, "fleet")["cost"], local["cost"], "and the cost sum is unchanged")

        # 3. ClickHouse killed mid-ship, restarted: nothing lost or doubled.
        big = os.path.join(tmp, "big")
        gen(big, 20000, 99)
        bigrecs = local_totals(export(big))
        sp = subprocess.Popen([ANALYZE, "ship", "--db", big, "--to", ch.url("crash"), "--batch", "100",
                               "--retry-for", "5m", "--timeout", "5s"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen, end = 0, time.time() + 60
        while time.time() < end and sp.poll() is None:
            try:
                seen = int(ch.q("SELECT count() FROM crash.hc_records").strip() or 0)
            except (OSError, urllib.error.URLError, ValueError):
                seen = 0
            if seen > 0:
                break
            time.sleep(0.05)
        ch.kill()
        t.ok(seen > 0 and sp.poll() is None, "ClickHouse killed while the shipper was mid-way (%d rows in)" % seen)
        time.sleep(3)
        t.ok(ch.start(), "ClickHouse restarted on the same data")
        so, se = sp.communicate(timeout=300)
        t.eq(sp.returncode, 0, "the shipper finished after the restart (exit 0)")
        t.ok("retrying" in se, "the shipper said it was retrying", se)
        t.eq(count_final(ch, "crash"), (20000, 20000), "all 20000 records there, each once")
        t.eq(remote_totals(ch, "crash")["cost"], bigrecs["cost"], "cost sum equals the store's")
        p = ana("ship", "--db", big, "--to", ch.url("crash"), "--json")
        t.eq(json.loads(p.stdout)["records"] if p.returncode == 0 else p.stderr, 0,
             "the cursor was saved: a new run sends nothing")

        # 4. Unreachable server: exit 1, cursor kept; a password is never shown.
        lone = os.path.join(tmp, "lone")
        gen(lone, 300, 5)
        dead = "clickhouse://default:s3cretPW@127.0.0.1:%d/lone" % free_port()
        p = ana("ship", "--db", lone, "--to", dead, "--retry-for", "2s")
        t.eq(p.returncode, 1, "server unreachable: exit 1 after --retry-for")
        t.ok("cursor kept" in p.stderr and "s3cretPW" not in p.stderr + p.stdout,
             "stderr says the cursor was kept and never shows the password", p.stderr)
        with open(os.path.join(lone, "data.mdb"), "rb") as f:
            t.ok(b"s3cretPW" not in f.read(), "the password is not in the store (cursor named without it)")
        p = ana("ship", "--db", lone, "--to", ch.url("lone"), "--json")
        t.eq(json.loads(p.stdout)["records"] if p.returncode == 0 else p.stderr, 300,
             "a later ship to a live server sends all 300")
        pw = os.path.join(tmp, "pw")
        gen(pw, 10, 4)
        p = ana("ship", "--db", pw, "--to", "clickhouse://default:wrongPW@127.0.0.1:%d/lone" % ch.http,
                "--retry-for", "1s")
        t.ok(p.returncode == 1 and "wrongPW" not in p.stderr and "HTTP" in p.stderr,
             "a refused password: exit 1, the server's answer shown, the password not", p.stderr)

        # 5. prune --shipped: only acknowledged records, never recent ones.
        p = ana("prune", "--db", lone, "--shipped", "--json")
        t.eq(json.loads(p.stdout)["records_removed"] if p.returncode == 0 else p.stderr, 300,
             "prune --shipped removed the 300 shipped records")
        t.eq(count_final(ch, "lone"), (300, 300), "ClickHouse still has them")
        recent = os.path.join(tmp, "recent")
        gen(recent, 50, 6, "--start", "10m", "--span", "5m")
        p = ana("prune", "--db", recent, "--shipped", "--json")
        t.eq(json.loads(p.stdout)["records_removed"], 0, "never shipped: prune --shipped removes nothing")
        ana("ship", "--db", recent, "--to", ch.url("recent"))
        t.eq(count_final(ch, "recent"), (50, 50), "recent records shipped")
        p = ana("prune", "--db", recent, "--shipped", "--json")
        t.eq(json.loads(p.stdout)["records_removed"], 0,
             "records inside the settle window (1h) stay: the cursor waits for late writers")

        # 6. --follow ships what is written while it runs; SIGTERM ends it cleanly.
        fol = os.path.join(tmp, "follow")
        gen(fol, 100, 7, "--with-bodies")
        fp = subprocess.Popen([ANALYZE, "ship", "--db", fol, "--to", ch.url("follow"), "--follow",
                               "--interval", "200ms", "--bodies"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        end, n = time.time() + 30, 0
        while time.time() < end and n < 100:
            time.sleep(0.2)
            try:
                n = count_final(ch, "follow")[0]
            except (OSError, urllib.error.URLError, ValueError):
                pass
        # Written now with ids of the last minute (a late writer with an id
        # older than the settle window would wait for the next run).
        gen(fol, 80, 8, "--start", "1m", "--span", "30s")
        end = time.time() + 30
        while time.time() < end and n < 180:
            time.sleep(0.2)
            n = count_final(ch, "follow")[0]
        t.eq(count_final(ch, "follow"), (180, 180), "--follow shipped the 80 records written while it ran")
        fp.send_signal(signal.SIGTERM)
        fo, fe = fp.communicate(timeout=30)
        t.eq(fp.returncode, 0, "--follow ends with exit 0 on SIGTERM")
        bodies = int(ch.q("SELECT sum(length(resp_body) > 0) FROM follow.records").strip())
        t.ok(bodies > 0, "--bodies: response bodies are in ClickHouse (%d)" % bodies)

        # 7. Misuse: exit 2, one line naming the bad value.
        for args, want in ((["--to", "http://127.0.0.1:1/x"], "clickhouse://"),
                           (["--to", "clickhouse://127.0.0.1:99999/x"], "99999"),
                           (["--to", "clickhouse://127.0.0.1:8123/bad-name"], "bad-name"),
                           ([], "--to"),
                           (["--to", ch.url("x"), "--batch", "0"], "--batch")):
            p = ana("ship", "--db", lone, *args)
            t.ok(p.returncode == 2 and want in p.stderr and len(p.stderr.splitlines()) == 1,
                 "ship %s: exit 2 naming %s" % (" ".join(args) or "(no --to)", want), p.stderr)
    finally:
        ch.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
