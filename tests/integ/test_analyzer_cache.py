#!/usr/bin/python3
"""hc-analyze cache, cache clear and ratelimits.

Part 1 (no shim): stores written by tests/tools/hc_gen_cache; every number of
`cache`, `cache --entries`, `cache clear` (each selector, --dry-run, misuse) and
`ratelimits` (groups, --by, --trend, filters, CSV) is checked against values
computed here, in Python, from the generator's --json-out.

Part 2 (end to end, when the shim is built): curl under the shim against the
mock provider. Two identical requests with Helicone-Cache-Enabled give 1 entry,
1 hit, savings > 0; a scripted 429 then 200 with retries on shows in
`ratelimits` as one 429 answer, recovered; a 429 without retries keeps its
x-ratelimit-remaining-requests: 0 (the lowest seen; the cache hit's replayed
headers do not count); a client-side rate-limit policy's block is counted; `cache clear --all` empties the cache (the next request is a
MISS).

Prints TAP lines and "# N passed, N failed"; exits 1 on any failure.
"""
import csv
import fnmatch
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(HERE, "clients"))
from hctest import TAP  # noqa: E402

BUILD = os.environ.get("HC_BUILD", os.path.join(ROOT, "build"))
ANA = os.path.join(BUILD, "hc-analyze")
GEN = os.path.join(BUILD, "tools", "hc_gen_cache")
if os.environ.get("HC_ASAN_BUILD") and os.access(os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze"), os.X_OK):
    ANA = os.path.join(os.environ["HC_ASAN_BUILD"], "hc-analyze")

US_H = 3600 * 10**6
US_D = 24 * US_H

# record flags (common/record.h)
CACHE_HIT, BLOCKED, CACHE_STORED, RATE_LIMITED = 2, 128, 1024, 2048

t = TAP()


# --- running -------------------------------------------------------------------------------

def run(*args, env=None):
    e = dict(os.environ)
    for k in ("HC_DB", "COLUMNS", "LD_PRELOAD"):
        e.pop(k, None)
    e["NO_COLOR"] = "1"
    if env:
        e.update(env)
    p = subprocess.run([ANA] + [str(a) for a in args], capture_output=True, env=e, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def run_json(*args):
    rc, out, err = run(*args, "--json")
    try:
        return rc, json.loads(out), err
    except ValueError as ex:
        t.ok(False, "JSON parses: %s" % " ".join(map(str, args)), "%s\n%s\n%s" % (ex, out[:500], err))
        return rc, None, err


def run_csv(*args):
    rc, out, err = run(*args, "--csv")
    return rc, list(csv.DictReader(io.StringIO(out, newline=""))), err


def gen(db, *args):
    p = subprocess.run([GEN, "--db", db] + [str(a) for a in args], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("hc_gen_cache failed: %s" % p.stderr.decode())
    with open(db + ".jsonl") as f:
        return [json.loads(line) for line in f]


def one_line_error(rc, err, name, needle=None):
    lines = [l for l in err.splitlines() if l.strip()]
    good = rc == 2 and len(lines) == 1 and lines[0].startswith("hc-analyze: ")
    if needle:
        good = good and needle in lines[0]
    t.ok(good, "%s: exit 2 with one clear line" % name, "rc=%d stderr=%r" % (rc, err))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# --- independent computations ----------------------------------------------------------------

def iso(us):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 10**6)) + ".%06dZ" % (us % 10**6)


def usd_exact(n):
    """Exact decimal dollars as the analyzer's CSV spells them."""
    s = "-" if n < 0 else ""
    n = abs(n)
    whole, frac = divmod(n, 10**9)
    if not frac:
        return "%s%d" % (s, whole)
    return ("%s%d.%09d" % (s, whole, frac)).rstrip("0")


def ms_exact(us):
    return "%d.%03d" % divmod(us, 1000)


def model_of(r):
    return r["model_req"] or r["model_resp"]


def split(lines):
    recs = sorted([x for x in lines if x["kind"] == "record"], key=lambda r: r["id"])
    ents = [x for x in lines if x["kind"] == "entry"]
    rot = [x for x in lines if x["kind"] == "rotation"]
    bad = [x for x in lines if x["kind"] == "bad"]
    return recs, ents, rot, bad


def entry_group(e, by_id):
    r = by_id.get(e["orig_id"])
    return r["cache_key"] if r and r["cache_key"] else None


def want_inventory(ents, rot, bad, now_us):
    live = [e for e in ents if e["expires_us"] > now_us]
    inv = {
        "count": len(ents), "live": len(live), "expired": len(ents) - len(live),
        "bytes": sum(e["bytes"] for e in ents), "live_bytes": sum(e["bytes"] for e in live),
        "rotation_counters": len(rot), "undecodable": len(bad),
        "oldest_created": iso(min(e["created_us"] for e in ents)) if ents else None,
        "newest_created": iso(max(e["created_us"] for e in ents)) if ents else None,
        "next_expiry": iso(min(e["expires_us"] for e in live)) if live else None,
        "last_expiry": iso(max(e["expires_us"] for e in ents)) if ents else None,
    }
    for dim in ("model", "host"):
        acc = {}
        for e in ents:
            a = acc.setdefault(e[dim], {dim: e[dim], "entries": 0, "live": 0, "expired": 0, "bytes": 0})
            a["entries"] += 1
            a["bytes"] += e["bytes"]
            a["live" if e["expires_us"] > now_us else "expired"] += 1
        inv["by_" + dim] = sorted(acc.values(), key=lambda a: (-a["entries"], a[dim].encode()))
    return inv


def want_lookups(recs, ents, now_us, by_id):
    look = [r for r in recs if r["cache_key"] or r["flags"] & CACHE_HIT]
    hits = [r for r in look if r["flags"] & CACHE_HIT]
    groups = {}
    for r in look:
        if not r["cache_key"]:
            continue
        g = groups.get(r["cache_key"])
        if g is None:
            g = groups[r["cache_key"]] = {
                "cache_key": r["cache_key"], "model": model_of(r), "host": r["host"], "lookups": 0, "hits": 0,
                "misses": 0, "stored": 0, "entries": 0, "entries_live": 0, "saved_nusd": 0,
                "_starts": [], "_hits": []}
        g["lookups"] += 1
        g["_starts"].append(r["start_us"])
        if r["flags"] & CACHE_HIT:
            g["hits"] += 1
            g["saved_nusd"] += r["saved_nusd"]
            g["_hits"].append(r["start_us"])
        else:
            g["misses"] += 1
        if r["flags"] & CACHE_STORED:
            g["stored"] += 1
    for e in ents:
        k = entry_group(e, by_id)
        if k in groups:
            groups[k]["entries"] += 1
            groups[k]["entries_live"] += e["expires_us"] > now_us
    out = []
    for g in groups.values():
        g["first_seen"] = iso(min(g["_starts"]))
        g["last_seen"] = iso(max(g["_starts"]))
        g["last_hit"] = iso(max(g["_hits"])) if g["_hits"] else None
        del g["_starts"], g["_hits"]
        out.append(g)
    out.sort(key=lambda g: (-g["hits"], -g["saved_nusd"], -g["misses"], g["cache_key"]))
    return {
        "lookups": len(look), "hits": len(hits), "misses": len(look) - len(hits),
        "stored": sum(1 for r in look if r["flags"] & CACHE_STORED),
        "hit_rate": len(hits) / len(look) if look else None,
        "saved_nusd": sum(r["saved_nusd"] for r in hits),
        "key_groups": len(out), "groups": out,
    }


def remaining_kind(name):
    if "remaining" not in name:
        return None
    if "req" in name:
        return "requests"
    if "token" in name:
        return "tokens"
    return None


def remaining_value(v):
    v = v.strip(" \t")
    return int(v) if v.isdigit() else None


def rl_sum(recs, where=False, include_hits=False):
    a = {"requests": 0, "rate_limited": 0, "answers_429": 0, "recovered": 0, "ratelimit_blocked": 0,
         "budget_blocked": 0, "blocked": 0,
         "retried_requests": 0, "retries": 0, "wait_us": 0, "wait_max_us": 0,
         "min_remaining_requests": None, "min_remaining_tokens": None, "first_429": None, "last_429": None}
    lim_starts = []
    for r in recs:  # in id order, as the analyzer scans
        blocked = bool(r["flags"] & BLOCKED)
        limited = bool(r["flags"] & RATE_LIMITED) or (r["status"] == 429 and not blocked)
        a["requests"] += 1
        if limited:
            a["rate_limited"] += 1
            a["recovered"] += 200 <= r["status"] < 300
            lim_starts.append(r["start_us"])
        if not blocked:
            n = sum(1 for x in r["attempts"].split(",") if x.split(":")[0] == "429" and ":" in x)
            a["answers_429"] += n if n else (1 if limited else 0)
        if blocked:  # rate-limit block or budget block (agg.h); "blocked" counts both
            a["blocked"] += 1
            if r["error"].startswith("rate limit"):
                a["ratelimit_blocked"] += 1
            else:
                a["budget_blocked"] += 1
        if r["retries"] > 0:
            a["retried_requests"] += 1
            a["retries"] += r["retries"]
        if r["ratelimit_wait_us"] > 0:
            a["wait_us"] += r["ratelimit_wait_us"]
            a["wait_max_us"] = max(a["wait_max_us"], r["ratelimit_wait_us"])
        if r["flags"] & CACHE_HIT and not include_hits:
            continue  # a hit's headers are the stored answer's, replayed
        for name, value in r["ratelimit"].items():
            kind = remaining_kind(name)
            v = remaining_value(value) if kind else None
            if v is None:
                continue
            key = "min_remaining_" + kind
            cur = a[key]
            if cur is None or v < cur["value"] or (v == cur["value"] and r["start_us"] < cur["_t"]):
                a[key] = {"value": v, "time": iso(r["start_us"]), "header": name, "_t": r["start_us"]}
                if where:
                    a[key].update(host=r["host"], model=model_of(r))
    for k in ("min_remaining_requests", "min_remaining_tokens"):
        if a[k]:
            del a[k]["_t"]
    if lim_starts:
        a["first_429"], a["last_429"] = iso(min(lim_starts)), iso(max(lim_starts))
    return a


def dim_of(r, d):
    return {"host": r["host"], "model": model_of(r), "provider": r["provider"]}[d]


def rl_groups(recs, dims):
    groups = {}
    for r in recs:
        groups.setdefault(tuple(dim_of(r, d) for d in dims), []).append(r)
    out = []
    for key, rs in groups.items():
        g = dict(zip(dims, key))
        g.update(rl_sum(rs))
        g["_key"] = "\0".join(key).encode()
        out.append(g)
    out.sort(key=lambda g: (-g["answers_429"], -g["rate_limited"], -g["blocked"], -g["requests"], g["_key"]))
    for g in out:
        del g["_key"]
    return out


def day_start(us):
    s = us // 10**6
    return (s - s % 86400) * 10**6


def hour_start(us):
    s = us // 10**6
    return (s - s % 3600) * 10**6


def rl_trend(recs, start_fn, step_us):
    b = {}
    for r in recs:
        b.setdefault(start_fn(r["start_us"]), []).append(r)
    out = []
    if not b:
        return out
    s = min(b)
    while s <= max(b):
        a = rl_sum(b.get(s, []))
        out.append({"start": iso(s), "requests": a["requests"], "rate_limited": a["rate_limited"],
                    "answers_429": a["answers_429"], "recovered": a["recovered"],
                    "ratelimit_blocked": a["ratelimit_blocked"], "budget_blocked": a["budget_blocked"],
                    "blocked": a["blocked"], "retries": a["retries"], "wait_us": a["wait_us"]})
        s += step_us
    return out


def first_diff(got, want):
    """A short description of the first difference between two lists of dicts."""
    if not isinstance(got, list) or not isinstance(want, list):
        return "got %r\nwant %r" % (got, want)
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            keys = sorted(set(g) | set(w)) if isinstance(g, dict) and isinstance(w, dict) else []
            d = ["%s: got %r want %r" % (k, g.get(k), w.get(k)) for k in keys if g.get(k) != w.get(k)]
            return "item %d differs:\n%s" % (i, "\n".join(d) or "got %r\nwant %r" % (g, w))
    return "lengths differ: got %d, want %d" % (len(got), len(want))


def eq_list(got, want, desc):
    return t.ok(got == want, desc, None if got == want else first_diff(got, want))


# --- part 1: generated stores ----------------------------------------------------------------

def check_view(S, recs, ents, rot, bad, now_us):
    by_id = {r["id"]: r for r in recs}
    rc, j, err = run_json("cache", "--db", S, "--top", 0)
    if not t.ok(rc == 0 and j, "cache --json: exit 0", err):
        return
    inv = want_inventory(ents, rot, bad, now_us)
    got_inv = {k: v for k, v in j["entries"].items()}
    for k in ("count", "live", "expired", "bytes", "live_bytes", "rotation_counters", "undecodable"):
        t.eq(got_inv[k], inv[k], "cache: entries.%s = %r" % (k, inv[k]))
    for k in ("oldest_created", "newest_created", "next_expiry", "last_expiry"):
        t.eq(got_inv[k], inv[k], "cache: entries.%s" % k)
    eq_list(got_inv["by_model"], inv["by_model"], "cache: entries by model (%d models)" % len(inv["by_model"]))
    eq_list(got_inv["by_host"], inv["by_host"], "cache: entries by host (%d hosts)" % len(inv["by_host"]))
    lk = want_lookups(recs, ents, now_us, by_id)
    for k in ("lookups", "hits", "misses", "stored", "saved_nusd", "key_groups"):
        t.eq(j[k], lk[k], "cache: %s = %r" % (k, lk[k]))
    t.ok(lk["hits"] > 0 and lk["saved_nusd"] > 0, "the generated store has hits with savings")
    t.ok(abs(j["hit_rate"] - lk["hit_rate"]) < 1e-12, "cache: hit_rate = hits / lookups = %.6f" % lk["hit_rate"],
         (j["hit_rate"], lk["hit_rate"]))
    t.eq(j["saved_usd"], lk["saved_nusd"] / 1e9, "cache: saved_usd")
    t.eq((j["records_scanned"], j["records_matched"], j["undecodable"]), (len(recs), len(recs), 0),
         "cache: records scanned and matched")
    eq_list(j["groups"], lk["groups"], "cache --top 0: every key group (hits, misses, stored, live entries, "
            "savings, times)")
    t.ok(any(g["entries"] for g in lk["groups"]) and any(g["stored"] > g["entries"] for g in lk["groups"]),
         "groups joined to entries through orig_id (some fully, some with gone buckets)")
    rc, j10, _ = run_json("cache", "--db", S)
    eq_list(j10["groups"], lk["groups"][:10], "cache: the default --top is 10, highest hits first")
    rc, j3, _ = run_json("cache", "--db", S, "--top", 3)
    eq_list(j3["groups"], lk["groups"][:3], "cache --top 3")

    # Filters select records; the entry inventory stays the whole table.
    sub = [r for r in recs if r["user"] == "u2"]
    rc, jf, _ = run_json("cache", "--db", S, "--user", "u2", "--top", 0)
    lkf = want_lookups(sub, ents, now_us, by_id)
    t.eq((jf["lookups"], jf["hits"], jf["misses"], jf["saved_nusd"], jf["records_matched"]),
         (lkf["lookups"], lkf["hits"], lkf["misses"], lkf["saved_nusd"], len(sub)), "cache --user u2: lookups from "
         "u2's records only")
    eq_list(jf["groups"], lkf["groups"], "cache --user u2: key groups of u2's records")
    t.eq(jf["entries"]["count"], inv["count"], "cache --user u2: the entry inventory is the whole table")
    rc, jm, _ = run_json("cache", "--db", S, "--model", "claude*", "--top", 0)
    subm = [r for r in recs if fnmatch.fnmatchcase(r["model_req"], "claude*")
            or fnmatch.fnmatchcase(r["model_resp"], "claude*")]
    lkm = want_lookups(subm, ents, now_us, by_id)
    t.eq((jm["lookups"], jm["hits"], jm["saved_nusd"]), (lkm["lookups"], lkm["hits"], lkm["saved_nusd"]),
         "cache --model 'claude*'")

    # CSV: the key-group table, exact values.
    rc, rows, _ = run_csv("cache", "--db", S, "--top", 0)
    want_rows = [{"cache_key": g["cache_key"], "model": g["model"], "host": g["host"], "hits": str(g["hits"]),
                  "misses": str(g["misses"]), "stored": str(g["stored"]), "entries_live": str(g["entries_live"]),
                  "saved_usd": usd_exact(g["saved_nusd"]), "last_hit": g["last_hit"] or ""} for g in lk["groups"]]
    eq_list(rows, want_rows, "cache --csv: one exact row per key group")

    # Text: the headline numbers, and exit 0.
    rc, out, err = run("cache", "--db", S)
    t.ok(rc == 0 and ("Entries     %d:" % inv["count"]) in out.replace(",", "") and "Hit rate" in out
         and "Cache keys by hits (10 of %d)" % lk["key_groups"] in out and not err,
         "cache (text): entries, hit rate, top keys", out[:1500] + err)

    # --entries: every entry, newest first, joined to its key group.
    rc, je, _ = run_json("cache", "--db", S, "--entries")
    want_e = [{"key": e["key"], "model": e["model"], "host": e["host"], "path": e["path"], "status": e["status"],
               "streamed": e["streamed"], "created": iso(e["created_us"]), "expires": iso(e["expires_us"]),
               "live": e["expires_us"] > now_us, "bytes": e["bytes"], "cost_nusd": e["cost_nusd"],
               "orig_id": e["orig_id"], "cache_key": entry_group(e, by_id)}
              for e in sorted(ents, key=lambda e: (-e["created_us"], e["key"]))]
    t.eq((je["count"], je["rotation_counters"], je["undecodable"]), (len(ents), len(rot), len(bad)),
         "cache --entries: count, rotation counters, undecodable")
    eq_list(je["entries"], want_e, "cache --entries --json: every entry, newest first, with its key group")
    rc, rows, _ = run_csv("cache", "--db", S, "--entries")
    t.eq([(r["key"], r["state"], r["bytes"], r["cost_usd"], r["cache_key"], r["orig_id"]) for r in rows],
         [(e["key"], "live" if e["live"] else "expired", str(e["bytes"]), usd_exact(e["cost_nusd"]),
           e["cache_key"] or "", e["orig_id"]) for e in want_e], "cache --entries --csv")


def entries_left(db):
    rc, j, _ = run_json("cache", "--db", db, "--entries")
    return sorted(e["key"] for e in j["entries"]) if j else None


def check_clear(tmp, S, recs, ents, rot, bad):
    by_id = {r["id"]: r for r in recs}
    now_us = int(time.time() * 1e6)

    def model_sel(e, pats):
        r = by_id.get(e["orig_id"])
        names = [e["model"]] + ([r["model_req"], r["model_resp"]] if r else [])
        return any(n and fnmatch.fnmatchcase(n, p) for n in names for p in pats)

    cases = [
        (["--expired"], lambda e: e["expires_us"] <= now_us),
        (["--older-than", "7d"], lambda e: e["created_us"] < now_us - 7 * US_D),
        (["--model", "gpt-4o"], lambda e: model_sel(e, ["gpt-4o"])),
        (["--model", "claude*", "--model", "llama3.2"], lambda e: model_sel(e, ["claude*", "llama3.2"])),
        (["--expired", "--model", "gpt-4o*"], lambda e: e["expires_us"] <= now_us and model_sel(e, ["gpt-4o*"])),
        (["--older-than", "3d", "--expired"],
         lambda e: e["created_us"] < now_us - 3 * US_D and e["expires_us"] <= now_us),
    ]
    before = sha(os.path.join(S, "data.mdb"))
    n_rec = len(recs)
    for i, (args, pick) in enumerate(cases):
        name = "cache clear " + " ".join(args)
        gone = [e for e in ents if pick(e)]
        stay = sorted(e["key"] for e in ents if not pick(e))
        # Dry run on the original: counts, and nothing changes.
        rc, j, err = run_json("cache", "clear", "--db", S, "--dry-run", *args)
        t.ok(rc == 0 and j and j["dry_run"] and j["entries_removed"] == len(gone) and
             j["bytes_removed"] == sum(e["bytes"] for e in gone) and j["entries_left"] == len(stay) and
             j["rotation_counters_removed"] == 0 and j["undecodable_removed"] == 0,
             "%s --dry-run: would remove %d entries (%d bytes), %d stay" % (
                 name, len(gone), sum(e["bytes"] for e in gone), len(stay)), (j, err))
        t.eq(sha(os.path.join(S, "data.mdb")), before, "%s --dry-run: data.mdb unchanged" % name)
        # The real thing on a copy.
        C = os.path.join(tmp, "clear%d" % i)
        shutil.copytree(S, C)
        rc, j, err = run_json("cache", "clear", "--db", C, *args)
        t.ok(rc == 0 and j and not j["dry_run"] and j["entries_removed"] == len(gone) and
             j["bytes_removed"] == sum(e["bytes"] for e in gone) and j["entries_left"] == len(stay),
             "%s: removed %d entries" % (name, len(gone)), (j, err))
        t.eq(entries_left(C), stay, "%s: exactly the other entries remain" % name)
        rc, jv, _ = run_json("cache", "--db", C)
        t.eq((jv["entries"]["rotation_counters"], jv["entries"]["undecodable"], jv["records_scanned"]),
             (len(rot), len(bad), n_rec), "%s: rotation counters, undecodable values and records untouched" % name)
        rc, j2, _ = run_json("cache", "clear", "--db", C, *args)
        t.eq((rc, j2["entries_removed"]), (0, 0), "%s again: nothing more to remove" % name)
    t.ok(any(len([e for e in ents if pick(e)]) for _, pick in cases[2:4]),
         "the --model cases select something (joined through the original record)")
    t.ok(any(e["model"] != "gpt-4o" and model_sel(e, ["gpt-4o"]) for e in ents),
         "--model gpt-4o matches entries whose own model is the dated answer model")

    # --all: everything, rotation counters and undecodable values included; text output.
    C = os.path.join(tmp, "clear-all")
    shutil.copytree(S, C)
    total = sum(e["bytes"] for e in ents) + sum(x["bytes"] for x in rot) + sum(x["bytes"] for x in bad)
    rc, out, err = run("cache", "clear", "--db", C, "--all")
    t.ok(rc == 0 and ("removed %d cache entries" % len(ents)) in out.replace(",", "") and "0 entries left" in out,
         "cache clear --all (text): says how many entries it removed", out + err)
    rc, jv, _ = run_json("cache", "--db", C)
    t.eq((jv["entries"]["count"], jv["entries"]["rotation_counters"], jv["entries"]["undecodable"],
          jv["records_scanned"]), (0, 0, 0, n_rec), "cache clear --all: the table is empty, records stay")
    C2 = os.path.join(tmp, "clear-all-json")
    shutil.copytree(S, C2)
    rc, j, _ = run_json("cache", "clear", "--db", C2, "--all")
    t.eq((j["entries_removed"], j["rotation_counters_removed"], j["undecodable_removed"], j["bytes_removed"],
          j["entries_left"]), (len(ents), len(rot), len(bad), total, 0), "cache clear --all --json: every count")
    rc, rows, _ = run_csv("cache", "clear", "--db", os.path.join(tmp, "clear0"), "--expired")
    t.ok(rc == 0 and len(rows) == 1 and rows[0]["entries_removed"] == "0" and rows[0]["dry_run"] == "0",
         "cache clear --csv: one row of counts", rows)

    # Misuse: exit 2, one line naming the argument; nothing is created.
    for args, needle, name in (
            ([], "--all", "cache clear without a selector"),
            (["--all", "--expired"], "--all", "cache clear --all with another selector"),
            (["--older-than", "soon"], "--older-than", "cache clear --older-than soon"),
            (["--model", ""], "--model", "cache clear --model ''"),
            (["--frob"], "--frob", "cache clear --frob"),
            (["--all", "extra"], "extra", "cache clear with an extra argument")):
        rc, out, err = run("cache", "clear", "--db", S, *args)
        one_line_error(rc, err, name, needle)
    missing = os.path.join(tmp, "missing")
    rc, out, err = run("cache", "clear", "--db", missing, "--all")
    one_line_error(rc, err, "cache clear on a missing store")
    t.ok(not os.path.exists(missing), "cache clear does not create a missing store")
    rc, out, err = run("cache", "--db", missing)
    one_line_error(rc, err, "cache on a missing store")
    rc, out, err = run("cache", "--db", S, "--top", "x")
    one_line_error(rc, err, "cache --top x", "--top")
    rc, out, err = run("cache", "--db", S, "--all")
    one_line_error(rc, err, "cache --all (a clear option without 'clear')", "--all")
    rc, out, err = run("cache", "--db", S, "--json", "clear")
    one_line_error(rc, err, "cache ... clear ('clear' not first)", "clear")
    t.eq(sha(os.path.join(S, "data.mdb")), before, "the original store was never modified")


def check_clear_batches(tmp):
    """More keys than one write transaction deletes (10,000)."""
    B = os.path.join(tmp, "big")
    now_s = int(time.time())
    lines = gen(B, "--now", now_s, "--seed", 11, "--groups", 5000, "--ratelimit", 0, "--json-out", B + ".jsonl")
    recs, ents, rot, bad = split(lines)
    now_us = int(time.time() * 1e6)
    keys = len(ents) + len(rot) + len(bad)
    t.ok(keys > 10000, "big store: %d keys in the cache table (more than one batch)" % keys)
    gone = [e for e in ents if e["expires_us"] <= now_us]
    rc, j, err = run_json("cache", "clear", "--db", B, "--expired")
    t.eq((rc, j["entries_removed"], j["entries_left"]), (0, len(gone), len(ents) - len(gone)),
         "big store: cache clear --expired")
    rc, j, err = run_json("cache", "clear", "--db", B, "--all")
    t.eq((rc, j["entries_removed"], j["rotation_counters_removed"], j["undecodable_removed"], j["keys_scanned"]),
         (0, len(ents) - len(gone), len(rot), len(bad), keys - len(gone)),
         "big store: cache clear --all removes every key across batches")
    rc, jv, _ = run_json("cache", "--db", B)
    t.eq((jv["entries"]["count"], jv["entries"]["rotation_counters"]), (0, 0), "big store: the table is empty")


def check_ratelimits(S, recs):
    rc, j, err = run_json("ratelimits", "--db", S)
    if not t.ok(rc == 0 and j, "ratelimits --json: exit 0", err):
        return
    want = rl_sum(recs, where=True)
    stale = rl_sum(recs, where=True, include_hits=True)
    t.ok(stale["min_remaining_tokens"] != want["min_remaining_tokens"],
         "the cache hits' replayed headers would change the lowest tokens left (so the rule is tested)")
    t.ok(want["answers_429"] > want["rate_limited"] > 0 and want["ratelimit_blocked"] > 0 and want["budget_blocked"] > 0
         and want["recovered"] > 0 and want["min_remaining_requests"] and want["min_remaining_tokens"],
         "the generated store has 429s, retries, recoveries, policy and budget blocks, headroom headers")
    for k in ("requests", "rate_limited", "answers_429", "recovered", "ratelimit_blocked", "budget_blocked", "blocked",
              "retried_requests", "retries", "wait_us", "wait_max_us", "first_429", "last_429"):
        t.eq(j["summary"][k], want[k], "ratelimits: summary.%s = %r" % (k, want[k]))
    t.eq(j["summary"]["min_remaining_requests"], want["min_remaining_requests"],
         "ratelimits: lowest requests left, its header, host, model and time")
    t.eq(j["summary"]["min_remaining_tokens"], want["min_remaining_tokens"],
         "ratelimits: lowest tokens left (non-numeric values ignored)")
    t.eq(j["by"], ["host", "model"], "ratelimits: grouped by host and model by default")
    eq_list(j["groups"], rl_groups(recs, ["host", "model"]), "ratelimits: every host/model group, in order")
    rc, jp, _ = run_json("ratelimits", "--db", S, "--by", "provider")
    eq_list(jp["groups"], rl_groups(recs, ["provider"]), "ratelimits --by provider")
    rc, jm, _ = run_json("ratelimits", "--db", S, "--by", "model", "--by", "host", "--top", 2)
    eq_list(jm["groups"], rl_groups(recs, ["model", "host"])[:2], "ratelimits --by model --by host --top 2")

    sub = [r for r in recs if r["user"] == "u2" and fnmatch.fnmatchcase(model_of(r), "gpt-4o*")]
    rc, jf, _ = run_json("ratelimits", "--db", S, "--user", "u2", "--model", "gpt-4o*")
    wf = rl_sum(sub, where=True)
    t.eq({k: jf["summary"][k] for k in wf}, wf, "ratelimits --user u2 --model 'gpt-4o*': summary of %d records"
         % len(sub))
    eq_list(jf["groups"], rl_groups(sub, ["host", "model"]), "ratelimits --user u2 --model 'gpt-4o*': groups")

    rc, jd, _ = run_json("ratelimits", "--db", S, "--trend", "day")
    td = rl_trend(recs, day_start, US_D)
    eq_list([{k: b[k] for k in td[0]} for b in jd["trend"]["buckets"]], td,
            "ratelimits --trend day: every day from first to last (%d)" % len(td))
    t.ok(all(b["period"] == b["start"][:10] for b in jd["trend"]["buckets"]), "--trend day: periods are dates")
    rc, jh, _ = run_json("ratelimits", "--db", S, "--trend", "hour")
    th = rl_trend(recs, hour_start, US_H)
    eq_list([{k: b[k] for k in th[0]} for b in jh["trend"]["buckets"]], th,
            "ratelimits --trend hour: %d buckets, empty ones included" % len(th))

    rc, rows, _ = run_csv("ratelimits", "--db", S)
    wg = rl_groups(recs, ["host", "model"])

    def low(g, k):
        return (str(g[k]["value"]), g[k]["time"]) if g[k] else ("", "")
    t.eq([(r["host"], r["model"], r["requests"], r["rate_limited"], r["answers_429"], r["recovered"],
           r["ratelimit_blocked"], r["budget_blocked"], r["blocked"], r["retries"], r["wait_ms"], r["wait_max_ms"],
           (r["min_remaining_requests"], r["min_remaining_requests_time"]),
           (r["min_remaining_tokens"], r["min_remaining_tokens_time"]), r["first_429"], r["last_429"]) for r in rows],
         [(g["host"], g["model"], str(g["requests"]), str(g["rate_limited"]), str(g["answers_429"]),
           str(g["recovered"]), str(g["ratelimit_blocked"]), str(g["budget_blocked"]), str(g["blocked"]),
           str(g["retries"]),
           ms_exact(g["wait_us"]), ms_exact(g["wait_max_us"]), low(g, "min_remaining_requests"),
           low(g, "min_remaining_tokens"), g["first_429"] or "", g["last_429"] or "") for g in wg],
         "ratelimits --csv: the group table, exact")
    rc, rows, _ = run_csv("ratelimits", "--db", S, "--trend", "day")
    t.eq([(r["start"], r["answers_429"], r["blocked"]) for r in rows],
         [(b["start"], str(b["answers_429"]), str(b["blocked"])) for b in td], "ratelimits --csv --trend day")

    rc, out, err = run("ratelimits", "--db", S)
    t.ok(rc == 0 and "Provider 429s     %d" % want["rate_limited"] in out and
         "Rate-limit blocks %d" % want["ratelimit_blocked"] in out and
         "Budget blocks     %d" % want["budget_blocked"] in out and
         "%d answers 429" % want["answers_429"] in out.replace(",", "") and "By host / model" in out and not err,
         "ratelimits (text): summary and table", out[:1500] + err)
    for args, needle in ((["--by", "user"], "--by"), (["--by", "model", "--by", "model"], "--by"),
                         (["--trend", "year"], "--trend"), (["--top", "-1"], "--top"), (["extra"], "extra")):
        rc, out, err = run("ratelimits", "--db", S, *args)
        one_line_error(rc, err, "ratelimits " + " ".join(args), needle)


def check_help():
    for args, prefix in ((["cache", "-h"], "usage: hc-analyze cache"),
                         (["cache", "clear", "-h"], "usage: hc-analyze cache clear"),
                         (["ratelimits", "-h"], "usage: hc-analyze ratelimits"),
                         (["help", "ratelimits"], "usage: hc-analyze ratelimits")):
        rc, out, err = run(*args)
        t.ok(rc == 0 and out.startswith(prefix) and not err, "%s: usage on stdout, exit 0" % " ".join(args))
    rc, out, _ = run("--help")
    t.ok(rc == 0 and "\n  cache " in out and "\n  ratelimits " in out, "hc-analyze --help lists cache and ratelimits")


def check_width(S):
    """Text fits $COLUMNS (tables narrowed or cut with an ellipsis, other lines
    wrapped); CSV and JSON are never narrowed."""
    for cols in (80, 60):
        for args in (["cache"], ["cache", "--entries"], ["cache", "--top", "0"], ["ratelimits"],
                     ["ratelimits", "--by", "model", "--trend", "hour"], ["cache", "clear", "--all", "--dry-run"]):
            rc, out, err = run(*args, "--db", S, env={"COLUMNS": str(cols)})
            lines = out.splitlines()
            wide = [l for l in lines if len(l) > cols]
            t.ok(rc == 0 and lines and not wide, "COLUMNS=%d %s: no line wider than %d" % (cols, " ".join(args), cols),
                 "rc=%d %s\n%s" % (rc, err, "\n".join(wide[:5])))
    rc, out, _ = run("cache", "--entries", "--db", S, env={"COLUMNS": "80"})
    head = out.splitlines()[0].split()
    t.ok(head[:2] == ["CREATED", "(UTC)"] and "MODEL" in head and "COST" in head,
         "cache --entries at 80 columns keeps created, model and cost", out.splitlines()[0])
    for args in (["cache", "--csv"], ["cache", "--entries", "--csv"], ["ratelimits", "--csv"],
                 ["ratelimits", "--json"]):
        rc1, out1, _ = run(*args, "--db", S, env={"COLUMNS": "40"})
        rc2, out2, _ = run(*args, "--db", S)
        t.ok(rc1 == 0 and out1 == out2, "%s: COLUMNS=40 changes nothing" % " ".join(args))


def part1(tmp):
    S = os.path.join(tmp, "s")
    now_s = int(time.time())
    lines = gen(S, "--now", now_s, "--seed", 5, "--json-out", S + ".jsonl")
    recs, ents, rot, bad = split(lines)
    t.ok(len(ents) > 20 and rot and bad and recs, "hc_gen_cache wrote %d records, %d entries, %d rotation counters, "
         "%d undecodable values" % (len(recs), len(ents), len(rot), len(bad)))
    lines2 = gen(os.path.join(tmp, "s2"), "--now", now_s, "--seed", 5, "--json-out", os.path.join(tmp, "s2.jsonl"))
    t.ok(lines2 == lines, "hc_gen_cache is deterministic for a seed and --now")
    now_us = int(time.time() * 1e6)
    check_help()
    check_view(S, recs, ents, rot, bad, now_us)
    check_ratelimits(S, recs)
    check_width(S)
    check_clear(tmp, S, recs, ents, rot, bad)
    check_clear_batches(tmp)


# --- part 2: end to end under the shim -------------------------------------------------------

def part2():
    shim = os.path.join(BUILD, "libhcshim.so")
    if not (os.access(shim, os.R_OK) and os.access(os.path.join(BUILD, "libhcshim-core.so"), os.R_OK)
            and shutil.which("curl")):
        print("ok %d - # SKIP end to end: no shim build or no curl" % (t.n + 1))
        t.n += 1
        return
    from feat_lib import chat, curl, records, rq  # noqa: E402
    from hctest import World  # noqa: E402
    ON = {"Helicone-Cache-Enabled": "true"}
    with World(http_mock=False) as w:
        # Cache: two identical requests -> one entry, one hit, savings.
        body = chat("analyzer cache end to end")
        _, res = curl(w, [rq(body, ON), rq(body, ON)])
        t.eq([(r.status, r.h("helicone-cache")) for r in res], [(200, "MISS"), (200, "HIT")],
             "e2e: two identical cached requests: MISS then HIT")
        recs = records(w, 2)
        rc, j, err = run_json("cache", "--db", w.db)
        if t.ok(rc == 0 and j, "e2e: cache --json", err):
            t.eq((j["entries"]["count"], j["entries"]["live"], j["lookups"], j["hits"], j["misses"], j["stored"]),
                 (1, 1, 2, 1, 1, 1), "e2e: 1 live entry; 2 lookups: 1 hit, 1 miss that stored its answer")
            t.ok(j["saved_nusd"] > 0 and j["saved_nusd"] == sum(r["cost_nusd"] for r in recs),
                 "e2e: savings > 0, the original answer's cost", (j["saved_nusd"], [r["cost_nusd"] for r in recs]))
            g = j["groups"][0] if j["groups"] else {}
            t.eq((g.get("hits"), g.get("stored"), g.get("entries_live"), g.get("model"), g.get("host")),
                 (1, 1, 1, "gpt-4o-mini", "api.openai.com"), "e2e: the key group, joined to its live entry")
            t.eq(j["entries"]["by_host"][0]["host"] if j["entries"]["by_host"] else None, "api.openai.com",
                 "e2e: the entry's host")
        rc, je, _ = run_json("cache", "--db", w.db, "--entries")
        t.eq([e["cache_key"] for e in je["entries"]], [recs[0]["cache_key"]] if recs else [],
             "e2e: cache --entries ties the entry to the records' cache key")

        # Rate limits: a 429 (no requests left) then 200, with retries on.
        w.mock.reset()
        w.mock.configure(ratelimit_headers=False)
        w.mock.script([{"status": 429, "headers": {"x-ratelimit-remaining-requests": "0"}}, {"status": 200}])
        RH = {"Helicone-Retry-Enabled": "true", "Helicone-Retry-Min-Timeout": "10",
              "Helicone-Retry-Max-Timeout": "50"}
        _, (r,) = curl(w, [rq(chat("rate limited once"), RH)])
        t.eq(r.status, 200, "e2e: 429 then 200 with retries: the app gets the 200")
        # A record keeps its final answer's headers: a 429 that is not retried keeps its own.
        w.mock.script([{"status": 429, "headers": {"x-ratelimit-remaining-requests": "0"}}])
        _, (r,) = curl(w, [rq(chat("rate limited, no retries"))])
        t.eq(r.status, 429, "e2e: a 429 without retries goes to the app")
        # A client-side policy of 1 request per minute: the second is blocked.
        pol = {"Helicone-RateLimit-Policy": "1;w=60"}
        _, res = curl(w, [rq(chat("policy one"), pol), rq(chat("policy two"), pol)])
        t.eq([x.status for x in res], [200, 429], "e2e: policy 1;w=60: the second request is blocked (429)")
        records(w, 6)
        rc, j, err = run_json("ratelimits", "--db", w.db)
        if t.ok(rc == 0 and j, "e2e: ratelimits --json", err):
            s = j["summary"]
            t.eq((s["requests"], s["rate_limited"], s["answers_429"], s["recovered"], s["retries"], s["blocked"]),
                 (6, 2, 2, 1, 1, 1), "e2e: 2 rate-limited requests with 1 answer 429 each, one recovered after "
                 "1 retry; 1 blocked by the policy")
            low = s["min_remaining_requests"] or {}
            t.eq((low.get("value"), low.get("header")), (0, "x-ratelimit-remaining-requests"),
                 "e2e: the lowest requests left is the 429's x-ratelimit-remaining-requests: 0")
            t.ok(s["wait_us"] > 0, "e2e: time waited before the retry is counted", s)
            g = [x for x in j["groups"] if x["model"] == "gpt-4o-mini"]
            t.eq((g[0]["answers_429"], g[0]["ratelimit_blocked"], g[0]["blocked"]) if g else None, (2, 1, 1),
                 "e2e: the host/model group carries the 429s and the block")

        # cache clear --all: the entry is gone, the next request is a MISS.
        rc, j, err = run_json("cache", "clear", "--db", w.db, "--all")
        t.eq((rc, j and j["entries_removed"]), (0, 1), "e2e: cache clear --all removed the entry")
        _, (r,) = curl(w, [rq(body, ON)])
        t.eq(r.h("helicone-cache"), "MISS", "e2e: after cache clear the same request is a MISS")


def main():
    if not os.access(ANA, os.X_OK) or not os.access(GEN, os.X_OK):
        t.ok(False, "binaries built (%s, %s)" % (ANA, GEN))
        return t.done()
    tmp = tempfile.mkdtemp(prefix="hc-anacache-")
    try:
        for name, part in (("part 1 (generated stores)", lambda: part1(tmp)), ("part 2 (end to end)", part2)):
            try:
                part()
            except Exception:
                t.ok(False, "%s ran without a Python error" % name, traceback.format_exc())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
