#!/usr/bin/python3
"""Concurrency: threads, forks and shell children, all into one store.

- One process, 32 threads x 10 calls, kept-alive and new connections mixed,
  some streamed: every call gets the answer to its own prompt; exactly 320
  records, each holding its own prompt and answer.
- A program that forks after creating its client (os.fork with a
  requests.Session; multiprocessing 'fork' Pool and Process, children leaving
  through os._exit): every call answered and recorded, in one store, under
  the pid that made it.
- A shell script whose children call the API (curl in a loop, sequential and
  in the background): every call recorded.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import CLIENTS, PYTHON, TAP, World  # noqa: E402


def jlines(text):
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def consistent(t, w, want, label):
    """The store holds exactly `want` records, parses and has unique ids. Returns the records."""
    recs = w.records(wait_for=want, timeout=20)
    time.sleep(0.2)
    recs = w.records()
    t.eq(len(recs), want, "%s: exactly %d records" % (label, want))
    t.eq(len({x["id"] for x in recs}), len(recs), "%s: unique ids" % label)
    st = json.loads(w.analyze("stats", "--json").stdout)
    t.ok(st["records"] == len(recs) and st["undecodable"] == 0, "%s: stats agrees, nothing undecodable" % label,
         (st["records"], st["undecodable"]))
    return recs


def threads(t, w):
    w.reset_store()
    T, N = 32, 10
    t0 = time.monotonic()
    r = w.run([PYTHON, os.path.join(CLIENTS, "fault_threads.py"), T, N], timeout=120)
    res = (jlines(r.stdout) or [{}])[-1]
    t.ok(r.returncode == 0 and res.get("ok") == T * N,
         "%d threads x %d calls (keep-alive and new connections, some streamed): every call got its own answer "
         "(%.1fs)" % (T, N, time.monotonic() - t0),
         "\n".join(res.get("bad", [])[:10]) + r.stderr[-1000:])
    recs = consistent(t, w, T * N, "threads")
    t.eq(len({x["pid"] for x in recs}), 1, "threads: all recorded under the one pid")
    t.eq(sum(1 for x in recs if x["flags"] & 1), T * (N // 3), "threads: the streamed calls are flagged streamed")
    # Each record holds its own prompt and the answer to it (no cross-talk in recording).
    exp = json.loads(w.analyze("export", "--format", "json", "--bodies").stdout)["records"]
    pairs, crossed = set(), []
    for x in exp:
        try:
            prompt = json.loads(x["request_body"])["messages"][0]["content"]
        except (ValueError, KeyError, TypeError):
            crossed.append(x["id"])
            continue
        if ("to: " + prompt + " ") not in answer_text(x.get("response_body") or ""):
            crossed.append((prompt, (x.get("response_body") or "")[:100]))
        pairs.add(prompt)
    want = {"thread %d call %d" % (k, i) for k in range(T) for i in range(N)}
    t.eq(pairs == want, True, "threads: the records hold exactly the %d prompts sent, once each" % (T * N))
    t.eq(crossed, [], "threads: every record's response answers its own prompt")


def answer_text(body):
    """The assistant text of a stored response body (plain JSON or an SSE stream)."""
    try:
        return json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    out = []
    for line in body.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            try:
                for ch in json.loads(line[6:]).get("choices", []):
                    out.append(ch.get("delta", {}).get("content") or "")
            except ValueError:
                pass
    return "".join(out)


def forks(t, w):
    for mode, n, calls in (("osfork", 3, 1 + 3 * 4), ("mp", 4, 1 + 16), ("mpproc", 4, 1 + 8)):
        w.reset_store()
        r = w.run([PYTHON, os.path.join(CLIENTS, "fault_fork.py"), mode, n], timeout=120)
        got = jlines(r.stdout)
        made = [g for g in got if "tag" in g]
        done = [g for g in got if g.get("done")]
        t.ok(r.returncode == 0 and done and all(c == 0 for c in done[0]["children"]),
             "%s: the program and its children exit normally" % mode, r.stdout[-500:] + r.stderr[-1500:])
        t.ok(len(made) == calls and all(g["ok"] for g in made),
             "%s: all %d calls (parent and children) answered correctly" % (mode, calls),
             [g for g in made if not g["ok"]] or len(made))
        recs = consistent(t, w, calls, mode)
        t.eq(sorted((x["pid"]) for x in recs), sorted(g["pid"] for g in made),
             "%s: each call recorded under the pid that made it" % mode)
        npids = len({g["pid"] for g in made})
        t.ok(npids > 1, "%s: calls came from %d processes" % (mode, npids))


SHELL = r"""
set -e
url=https://api.openai.com/v1/chat/completions
call() { curl -sS -o /dev/null -w '%{http_code}\n' "$url" -H 'Authorization: Bearer sk-test-sh' \
         -H 'Content-Type: application/json' -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"shell $1\"}]}"; }
i=0
while [ $i -lt 10 ]; do call seq$i; i=$((i+1)); done
for j in 1 2 3 4 5 6; do call bg$j & done
wait
( call sub1; sh -c 'echo nested' >/dev/null ) 
"""


def shell(t, w):
    w.reset_store()
    r = w.run(["sh", "-c", SHELL], timeout=120)
    codes = [l for l in r.stdout.split() if l.isdigit()]
    t.ok(r.returncode == 0 and codes == ["200"] * 17, "sh script: 10 sequential, 6 background and 1 subshell curl "
         "calls all answered", r.stdout + r.stderr[-800:])
    recs = consistent(t, w, 17, "shell")
    t.eq(len({x["pid"] for x in recs}), 17, "shell: one record per curl process")
    t.ok(all(x["program"] == "curl" and x["status"] == 200 for x in recs), "shell: recorded as curl, status 200",
         {(x["program"], x["status"]) for x in recs})


def main():
    t = TAP()
    with World(http_mock=False) as w:
        for step in (threads, forks, shell):
            t0 = time.monotonic()
            w.mock.reset()
            step(t, w)
            t.diag("%s: %.1fs" % (step.__name__, time.monotonic() - t0))
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
