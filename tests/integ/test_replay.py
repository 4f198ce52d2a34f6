#!/usr/bin/python3
"""Record once, replay anywhere (HC_REPLAY / HC_CASSETTE, core/replay.c).

- An agent with a tool loop (clients/replay_agent.py: streamed OpenAI turns
  with python3 requests, streamed Anthropic turns with urllib, the same
  request twice, a curl child process) prints the same output under the shim
  in record mode as without the shim at all.
- The cassette: one JSON object per line, one line per exchange (the curl
  child's included), file mode 0600, no API key anywhere in it.
- Replay with the mock stopped and no key: the same output byte for byte, the
  repeated request answered in recorded order; the store gets one record per
  exchange, flagged replayed (P), cost 0 and the recorded cost as saved, and
  otherwise the same as the recording's records; `hc-analyze audit` runs.
- A changed prompt in replay: a 404 replay_no_match the app sees, one stderr
  line naming the request and the closest recorded one, and no upstream call
  (the mock is running and counts none); a turn more than recorded fails too.
- auto: the changed run's new requests go upstream and are appended, known ones
  are replayed; afterwards the changed run replays offline.
- HC_REPLAY_IGNORE (a top-level key) and HC_REPLAY_IGNORE_RE (a timestamp in
  the prompt) let those differ; without them the request is a miss.
- A Gemini key in the URL (?key=) is redacted in the cassette; the replay
  matches with another key.
- hc-analyze cassette list (table, --model filter as JSON Lines), merge
  (--dedupe, 0600), prune (--dry-run, --grep), misuse exits 2.
- Several processes recording at once: every line whole, none lost.
- Bad settings: HC_REPLAY=bogus leaves the app working and says so once.
- hc-run --record / --replay / --replay-auto.
"""
import json
import os
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, PYTHON, ROOT, TAP, World  # noqa: E402
from mock_provider import MockProvider  # noqa: E402

AGENT = os.path.join(ROOT, "tests", "integ", "clients", "replay_agent.py")
HC_RUN = os.path.join(ROOT, "scripts", "hc-run")
OKEY, AKEY = "sk-replay-secret-0123456789", "sk-ant-replay-secret-9876543210"
KEYS = {"OPENAI_API_KEY": OKEY, "ANTHROPIC_API_KEY": AKEY}
NOKEYS = {"OPENAI_API_KEY": None, "ANTHROPIC_API_KEY": None}
STREAM, CACHE_HIT, REPLAYED = 1, 2, 1 << 13
N_EXCH = 7  # 2 OpenAI + 2 Anthropic streamed, 2 identical pings, 1 curl


def lines(path):
    with open(path) as f:
        return [json.loads(x) for x in f.read().splitlines() if x.strip()]


def recs(db, n):
    deadline = time.monotonic() + 10
    while True:
        out = analyze("requests", "--json", "--limit", "0", "--db", db)
        got = list(reversed(json.loads(out.stdout)["requests"])) if out.returncode == 0 else []
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def analyze(*args):
    return subprocess.run([ANALYZE] + list(args), capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"})


def restart(w):
    """A fresh mock (a stopped MockProvider is not restarted)."""
    w.mock.stop()
    w.mock = MockProvider(tls=True, certfile=w.pki["cert"], keyfile=w.pki["key"]).start()


def hcas_dummy(w):
    """A second cassette: one entry of the first (a duplicate) and one new."""
    src = lines(os.path.join(w.dir, "agent.jsonl"))
    other = dict(src[0], key="0" * 64, model="gpt-4o")
    path = os.path.join(w.dir, "second.jsonl")
    with open(os.path.join(w.dir, "agent.jsonl")) as f:
        first = f.readline()
    with open(path, "w") as f:
        f.write(first + json.dumps(other) + "\n")
    return path


def same_fields(r):
    return {k: r.get(k) for k in ("host", "path", "method", "model", "status", "tok_in", "tok_out", "provider")}


def curl_chat(w, content, extra=None, n=1, **env):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    body.update(extra or {})
    argv = ["curl", "-sS"]
    for i in range(n):
        if i:
            argv.append("--next")
        argv += ["-w", "\n%{http_code}\n", "-X", "POST", "https://api.openai.com/v1/chat/completions",
                 "-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + OKEY,
                 "-d", json.dumps(body)]
    return w.run(argv, **env)


def main():
    t = TAP()
    with World(http_mock=False) as w:
        cas = os.path.join(w.dir, "agent.jsonl")
        db_rec, db_rep = os.path.join(w.dir, "db-rec"), os.path.join(w.dir, "db-rep")

        # -- the same program without the shim (the mock addressed directly)
        w.mock.reset()
        plain_env = {k: v for k, v in os.environ.items() if not k.startswith("HC_") and k != "LD_PRELOAD"}
        plain_env.update(KEYS, OPENAI_BASE=w.mock.url, ANTHROPIC_BASE=w.mock.url, AGENT_CA=w.pki["ca"],
                         NO_PROXY="*", no_proxy="*")
        plain = subprocess.run([PYTHON, AGENT, "plan a picnic"], env=plain_env, capture_output=True, text=True,
                               timeout=60)
        t.eq(plain.returncode, 0, "without the shim: the agent runs (%s)" % plain.stderr[-300:])

        # -- record
        w.mock.reset()
        rec = w.run([PYTHON, AGENT, "plan a picnic"], HC_REPLAY="record", HC_CASSETTE=cas, HC_DB=db_rec, **KEYS)
        t.eq(rec.returncode, 0, "record: the agent exits 0 (%s)" % rec.stderr[-300:])
        t.eq(rec.stdout, plain.stdout, "record: output identical to the run without the shim")
        t.eq(w.mock.count(), N_EXCH, "record: every request went upstream")
        t.ok("HTTP 4" not in rec.stdout and "Mock answer 7" in rec.stdout, "record: every answer reached the app",
             rec.stdout[-500:])
        entries = lines(cas) if os.path.exists(cas) else []
        t.eq(len(entries), N_EXCH, "cassette: one JSON line per exchange, the curl child's included")
        t.eq(stat.S_IMODE(os.stat(cas).st_mode) if os.path.exists(cas) else None, 0o600, "cassette: mode 0600")
        raw = open(cas, "rb").read() if os.path.exists(cas) else b""
        t.ok(OKEY.encode() not in raw and AKEY.encode() not in raw and b"sk-" not in raw
             and b"uthorization" not in raw and b"x-api-key" not in raw.lower(),
             "cassette: no API key, no Authorization or x-api-key header")
        if entries:
            e = entries[0]
            t.ok(all(k in e for k in ("key", "host", "path", "model", "request", "status", "head", "body")),
                 "cassette entry: key, host, path, model, request, status, head, body", sorted(e))
            t.ok(isinstance(e["request"], dict) and e["request"]["messages"][0]["content"] == "Task: plan a picnic",
                 "cassette entry: the request as matched, JSON", e["request"])
            t.ok(e["streamed"] is True and "data: " in e["body"], "cassette entry: the streamed body, as text")
            t.ok(not any(h.lower().startswith(("content-length", "transfer-encoding", "connection", "helicone"))
                         for h in e["head"]), "cassette entry: head without framing or helicone-* headers",
                 e["head"])
            t.eq([x["host"] for x in entries].count("api.anthropic.com"), 2, "cassette: both providers recorded")
        recs_rec = recs(db_rec, N_EXCH)

        # -- replay, mock stopped, no key
        w.mock.stop()
        rep = w.run([PYTHON, AGENT, "plan a picnic"], HC_REPLAY="replay", HC_CASSETTE=cas, HC_DB=db_rep, **NOKEYS)
        t.eq(rep.returncode, 0, "replay (mock stopped, no key): the agent exits 0 (%s)" % rep.stderr[-300:])
        t.eq(rep.stdout, rec.stdout, "replay: output identical to the recorded run, byte for byte")
        pings = [x for x in rep.stdout.splitlines() if x.startswith("ping")]
        t.ok(len(pings) == 2 and pings[0].split("[id")[1] != pings[1].split("[id")[1],
             "replay: the repeated identical request gets the recorded answers in order", pings)
        t.ok("replay:" not in rep.stderr, "replay: nothing on stderr", rep.stderr[-500:])
        recs_rep = recs(db_rep, N_EXCH)
        t.eq(len(recs_rep), N_EXCH, "replay: one record per exchange")
        if len(recs_rep) == N_EXCH and len(recs_rec) == N_EXCH:
            key = lambda r: (r["host"], r["path"], r["tok_in"], r["tok_out"], r["status"])  # noqa: E731
            a, b = sorted(recs_rec, key=key), sorted(recs_rep, key=key)
            t.eq([same_fields(r) for r in b], [same_fields(r) for r in a],
                 "replay records = recorded records (host, path, model, status, tokens, provider)")
            t.ok(all(r["flags"] & REPLAYED for r in recs_rep) and not any(r["flags"] & REPLAYED for r in recs_rec),
                 "replay records are flagged replayed; recorded ones are not", [r["flags"] for r in recs_rep])
            t.eq([r["flags"] & ~REPLAYED & ~CACHE_HIT & STREAM for r in b], [r["flags"] & STREAM for r in a],
                 "replay records: streamed flags as recorded")
            t.ok(all(r["cost_nusd"] == 0 for r in recs_rep), "replay records cost nothing")
            t.eq(sorted(r["saved_nusd"] for r in b), sorted(r["cost_nusd"] for r in a),
                 "replay records: saved = the recorded cost")
            t.ok(sum(r["cost_nusd"] for r in a) > 0, "the recording had a cost to save")
        lst = analyze("requests", "--limit", "0", "--db", db_rep)
        t.ok("SY" in lst.stdout, "hc-analyze requests: FLAGS shows Y (replayed)", lst.stdout[-600:])
        aud = analyze("audit", "--max-requests", "100", "--max-error-rate", "0", "--db", db_rep)
        t.eq(aud.returncode, 0, "hc-analyze audit passes on the replayed run (%s)" % aud.stdout[-300:])

        # -- drift in replay: loud, and never the network
        restart(w)
        w.mock.reset()
        drift = w.run([PYTHON, AGENT, "plan a party"], HC_REPLAY="replay", HC_CASSETTE=cas,
                      HC_DB=os.path.join(w.dir, "db-drift"), **NOKEYS)
        first = drift.stdout.splitlines()[0] if drift.stdout else ""
        t.ok(first.startswith("openai turn 1: HTTP 404") and "replay_no_match" in first,
             "replay, changed prompt: the app gets a 404 replay_no_match", first[:300])
        t.ok("closest recorded" in first and "plan a picnic" in first, "the error names the closest recorded request",
             first[:400])
        errs = [x for x in drift.stderr.splitlines() if "replay: no recorded answer" in x]
        t.ok(errs and "POST api.openai.com/v1/chat/completions" in errs[0] and "line 1" in errs[0],
             "one stderr line names the request and the closest recorded one (line 1)", drift.stderr[-800:])
        t.eq(w.mock.count(), 0, "replay: a miss never reaches the network (the running mock saw nothing)")
        ping = [x for x in drift.stdout.splitlines() if x.startswith("ping")]
        t.ok(len(ping) == 2 and "Mock answer" in ping[0] and "Mock answer" in ping[1],
             "replay, changed prompt: unchanged requests are still replayed", ping)
        third = curl_chat(w, "ping", n=3, HC_REPLAY="replay", HC_CASSETTE=cas, HC_DB=os.path.join(w.dir, "db-3"))
        codes = [x for x in third.stdout.splitlines() if x in ("200", "404")]
        t.eq(codes, ["200", "200", "404"], "replay: a turn more than recorded is a miss (recorded 2 times)")
        t.ok("recorded 2 time(s)" in third.stdout and "turn 3" in third.stdout,
             "the miss says the request was recorded 2 times and this is turn 3", third.stdout[-400:])

        # -- auto: record the new, replay the known
        w.mock.reset()
        auto = w.run([PYTHON, AGENT, "plan a party"], HC_REPLAY="auto", HC_CASSETTE=cas,
                     HC_DB=os.path.join(w.dir, "db-auto"), **KEYS)
        t.eq(auto.returncode, 0, "auto: the agent exits 0")
        t.ok("HTTP 4" not in auto.stdout and "plan a party" in auto.stdout, "auto: every request answered",
             auto.stdout[:400])
        went = w.mock.count()
        t.ok(2 <= went <= N_EXCH - 2, "auto: the changed requests went upstream, the known ones (pings) did not",
             went)
        t.eq(len(lines(cas)), N_EXCH + went, "auto: exactly the exchanges that went upstream were appended")
        w.mock.stop()
        again = w.run([PYTHON, AGENT, "plan a party"], HC_REPLAY="replay", HC_CASSETTE=cas,
                      HC_DB=os.path.join(w.dir, "db-again"), **NOKEYS)
        t.eq(again.stdout, auto.stdout, "after auto: the changed run replays offline, identical")
        restart(w)

        # -- hc-analyze cassette (cas now holds the picnic and party runs)
        lst = analyze("cassette", "list", cas)
        ncas = len(lines(cas))
        t.ok(lst.returncode == 0 and lst.stdout.rstrip().endswith("%d of %d entries" % (ncas, ncas))
             and "Task: plan a picnic" in lst.stdout and "api.anthropic.com" in lst.stdout,
             "cassette list: every entry, its host and last prompt", lst.stdout[-600:])
        sel = analyze("cassette", "list", cas, "--model", "claude*", "--json")
        got = [json.loads(x) for x in sel.stdout.splitlines()]
        t.ok(got and all(x["host"] == "api.anthropic.com" for x in got)
             and len(got) == sum(1 for x in lines(cas) if x["model"].startswith("claude")),
             "cassette list --model 'claude*' --json: exactly the Anthropic entries, as JSON Lines", len(got))
        merged = os.path.join(w.dir, "merged.jsonl")
        m = analyze("cassette", "merge", "-o", merged, cas, hcas_dummy(w), "--dedupe")
        t.ok(m.returncode == 0 and len(lines(merged)) == len(lines(cas)) + 1
             and stat.S_IMODE(os.stat(merged).st_mode) == 0o600,
             "cassette merge --dedupe: the union in order, duplicates dropped, 0600", m.stdout + m.stderr)
        n0 = len(lines(merged))
        pr = analyze("cassette", "prune", merged, "--grep", "plan a party", "--dry-run")
        t.ok(pr.returncode == 0 and len(lines(merged)) == n0 and "would remove" in pr.stdout,
             "cassette prune --dry-run: says what would go, changes nothing", pr.stdout[-300:])
        pr = analyze("cassette", "prune", merged, "--grep", "plan a party")
        t.ok(pr.returncode == 0 and 0 < len(lines(merged)) < n0
             and not any("plan a party" in json.dumps(x["request"]) for x in lines(merged)),
             "cassette prune --grep: the selected entries are gone, the rest kept", pr.stdout[-300:])
        bad = analyze("cassette", "prune", merged)
        t.ok(bad.returncode == 2 and "expected at least one filter" in bad.stderr,
             "cassette prune without a filter: exit 2, says a filter is needed", bad.stderr)
        bad = analyze("cassette", "list", cas, "--status", "9xx")
        t.ok(bad.returncode == 2 and "--status" in bad.stderr and "'9xx'" in bad.stderr,
             "cassette --status 9xx: exit 2 naming the option and the value", bad.stderr)
        bad = analyze("cassette", "list", os.path.join(w.dir, "none.jsonl"))
        t.ok(bad.returncode == 2 and "cannot read" in bad.stderr and "none.jsonl" in bad.stderr,
             "cassette list MISSING: exit 2 naming the file", bad.stderr)

        # -- what may differ
        icas = os.path.join(w.dir, "ignore.jsonl")
        curl_chat(w, "at 2026-01-01T10:00:00Z say hi", {"user": "alice"}, HC_REPLAY="record", HC_CASSETTE=icas)
        w.mock.stop()
        opts = dict(HC_REPLAY="replay", HC_CASSETTE=icas, HC_REPLAY_IGNORE="user",
                    HC_REPLAY_IGNORE_RE="[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z")
        r = curl_chat(w, "at 2026-12-06T23:59:59Z say hi", {"user": "bob"}, **opts)
        t.ok(r.stdout.rstrip().endswith("200") and "Mock answer" in r.stdout,
             "HC_REPLAY_IGNORE=user and HC_REPLAY_IGNORE_RE=<timestamp>: another user and time still match",
             r.stdout[-300:])
        r = curl_chat(w, "at 2026-12-06T23:59:59Z say hi", {"user": "bob"}, HC_REPLAY="replay", HC_CASSETTE=icas)
        t.ok(r.stdout.rstrip().endswith("404"), "without them: the same request is a miss", r.stdout[-200:])
        restart(w)

        # -- a key in the URL (Gemini ?key=) is never written, and not needed to replay
        gcas = os.path.join(w.dir, "gemini.jsonl")
        gurl = "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key="
        gbody = json.dumps({"contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}]})
        gargv = ["curl", "-sS", "-w", "\n%{http_code}\n", "-X", "POST", "-H", "Content-Type: application/json",
                 "-d", gbody]
        g1 = w.run(gargv + [gurl + "AIzaSecretReplayKey0123"], HC_REPLAY="record", HC_CASSETTE=gcas)
        graw = open(gcas).read() if os.path.exists(gcas) else ""
        t.ok(g1.stdout.rstrip().endswith("200") and graw and "AIzaSecretReplayKey0123" not in graw
             and "key=REDACTED" in graw, "Gemini ?key=: recorded with the key redacted from the path",
             g1.stdout[-200:] + graw[:300])
        w.mock.stop()
        g2 = w.run(gargv + [gurl + "another-key"], HC_REPLAY="replay", HC_CASSETTE=gcas)
        t.eq(g2.stdout, g1.stdout, "Gemini: replayed offline with another key, the same answer")
        restart(w)

        # -- an HTTP/1.0 app's streamed answer is replayed with a length, not chunks
        h10 = os.path.join(w.dir, "http10.jsonl")
        r1 = curl_chat(w, "old client", {"stream": True}, HC_REPLAY="record", HC_CASSETTE=h10)
        w.mock.stop()
        r2 = w.run(["curl", "--http1.0", "-sS", "-i", "-X", "POST", "https://api.openai.com/v1/chat/completions",
                    "-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + OKEY,
                    "-d", json.dumps({"model": "gpt-4o-mini", "stream": True,
                                      "messages": [{"role": "user", "content": "old client"}]})],
                   HC_REPLAY="replay", HC_CASSETTE=h10)
        head, _, body = r2.stdout.partition("\n\n")  # text mode: CRLF read as LF
        t.ok("200" in head.split("\n")[0] and "content-length" in head.lower() and "chunked" not in head.lower()
             and body and body in r1.stdout and "data: [DONE]" in body,
             "HTTP/1.0 app: a streamed answer replayed with Content-Length, the recorded events",
             repr(r2.stdout[-700:]) + "\n" + repr(r1.stdout[-300:]) + r2.stderr[-300:])
        restart(w)

        # -- concurrent recording processes
        ccas = os.path.join(w.dir, "conc.jsonl")
        procs = []
        for i in range(4):
            body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "proc %d" % i}]})
            argv = ["curl", "-sS"]
            for j in range(5):
                argv += (["--next"] if j else []) + ["-o", "/dev/null", "-X", "POST",
                                                      "https://api.openai.com/v1/chat/completions",
                                                      "-H", "Content-Type: application/json",
                                                      "-H", "Authorization: Bearer " + OKEY, "-d", body]
            procs.append(subprocess.Popen(argv, env=w.env(HC_REPLAY="record", HC_CASSETTE=ccas),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for p in procs:
            p.wait(timeout=60)
        try:
            got = lines(ccas)
            t.eq(len(got), 20, "4 processes recording at once: 20 whole lines, none lost or torn")
        except ValueError as e:
            t.ok(False, "4 processes recording at once: every line is JSON", e)

        # -- bad settings fail open
        r = curl_chat(w, "bogus mode", HC_REPLAY="bogus", HC_CASSETTE=ccas)
        t.ok(r.stdout.rstrip().endswith("200"), "HC_REPLAY=bogus: the app still gets its answer", r.stdout[-200:])
        t.ok("HC_REPLAY: expected record, replay, auto or off, got 'bogus'" in r.stderr,
             "HC_REPLAY=bogus: one stderr line names the variable and the bad value", r.stderr[-300:])
        r = curl_chat(w, "no cassette", HC_REPLAY="replay", HC_CASSETTE=None)
        t.ok(r.stdout.rstrip().endswith("404") and "HC_CASSETTE" in r.stderr,
             "HC_REPLAY=replay without HC_CASSETTE: refused (never the network), stderr names HC_CASSETTE",
             r.stdout[-200:] + r.stderr[-300:])

        # -- hc-run
        hcas = os.path.join(w.dir, "hcrun.jsonl")
        with open(hcas, "w") as f:
            f.write("stale\n")
        base = ["curl", "-sS", "-w", "\n%{http_code}\n", "-X", "POST", "https://api.openai.com/v1/chat/completions",
                "-H", "Content-Type: application/json", "-H", "Authorization: Bearer " + OKEY,
                "-d", json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hc-run"}]})]
        env = w.env()
        env.pop("LD_PRELOAD")
        r1 = subprocess.run([HC_RUN, "--record", hcas, "--"] + base, env=env, capture_output=True, text=True)
        t.ok(r1.stdout.rstrip().endswith("200") and len(lines(hcas)) == 1,
             "hc-run --record FILE: empties FILE, records the exchange", r1.stdout[-200:] + r1.stderr[-200:])
        w.mock.stop()
        r2 = subprocess.run([HC_RUN, "--replay", hcas, "--"] + base, env=env, capture_output=True, text=True)
        t.eq(r2.stdout, r1.stdout, "hc-run --replay FILE: the same answer with the mock stopped")
        r3 = subprocess.run([HC_RUN, "--replay", os.path.join(w.dir, "none.jsonl"), "--", "true"], env=env,
                            capture_output=True, text=True)
        t.ok(r3.returncode == 2 and "--replay: cannot read the cassette" in r3.stderr,
             "hc-run --replay MISSING: exit 2 naming the option and file", r3.stderr)
        restart(w)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
