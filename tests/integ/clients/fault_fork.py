"""Programs that fork after creating their HTTP client.

argv: MODE N
  osfork  A python3-requests Session is created and used once (with
          Connection: close, so no kept-alive connection is shared across the
          fork — sharing one would be the app's bug with or without the shim).
          Then the process forks N children; parent and children each make 3
          calls with that same Session; children leave with os._exit(0).
  mp      The same warm Session at module level; a multiprocessing Pool
          (start method 'fork', N workers) maps 4*N tasks, each one call;
          workers end the way multiprocessing ends them (os._exit).
  mpproc  N multiprocessing.Process children ('fork'), each 2 calls, then
          os._exit(0) explicitly.
Prints one JSON line per call made: {"pid", "tag", "status", "ok"}; the
parent prints {"done": true, "children": [exit codes]} last.
"""
import json
import multiprocessing
import os
import sys

import requests

MODE, N = sys.argv[1], int(sys.argv[2])
URL = "https://api.openai.com/v1/chat/completions"
H = {"Authorization": "Bearer sk-test-fork-0123456789", "Content-Type": "application/json"}
SESSION = requests.Session()


def emit(obj):
    """One line with one write(2): lines from several processes never interleave."""
    sys.stdout.flush()
    os.write(1, (json.dumps(obj) + "\n").encode())


def call(tag):
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "fork %s" % tag}]})
    try:
        r = SESSION.post(URL, data=body, headers=H, timeout=60)
        ok = r.status_code == 200 and ("fork " + tag) in r.json()["choices"][0]["message"]["content"]
        out = {"pid": os.getpid(), "tag": tag, "status": r.status_code, "ok": ok}
    except Exception as e:
        out = {"pid": os.getpid(), "tag": tag, "status": 0, "ok": False, "exc": "%s %s" % (type(e).__name__, e)}
    emit(out)
    return out["ok"]


def task(i):
    return call("task%d" % i)


def proc_main(k):
    call("proc%da" % k)
    call("proc%db" % k)
    sys.stdout.flush()
    os._exit(0)


# Warm up: the shim's core starts in this process before any fork.
r = SESSION.post(URL, data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "warm"}]}),
                 headers=dict(H, Connection="close"), timeout=60)
emit({"pid": os.getpid(), "tag": "warm", "status": r.status_code, "ok": r.status_code == 200})

codes = []
if MODE == "osfork":
    kids = []
    for k in range(N):
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            for i in range(3):
                call("child%d.%d" % (k, i))
            sys.stdout.flush()
            os._exit(0)
        kids.append(pid)
    for i in range(3):
        call("parent.%d" % i)
    for pid in kids:
        codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
elif MODE == "mp":
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(N) as pool:
        pool.map(task, range(4 * N), chunksize=1)
        pool.close()
        pool.join()
elif MODE == "mpproc":
    ctx = multiprocessing.get_context("fork")
    ps = [ctx.Process(target=proc_main, args=(k,)) for k in range(N)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(60)
        codes.append(p.exitcode)
emit({"done": True, "children": codes})
