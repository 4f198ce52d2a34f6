#!/usr/bin/python3
"""scripts/hc-mock: the user's own program against the bundled mock, no keys.

With a command it runs it under hc-run with the provider hosts routed to the
mock over plain HTTP and exits with the command's status; without, it prints
the hc-run line to use and serves until interrupted. Real clients: python3
urllib (an unmodified HTTPS program) and curl.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, PYTHON, ROOT, SHIM, TAP  # noqa: E402

HC_MOCK = os.path.join(ROOT, "scripts", "hc-mock")
AGENT = ("import json, os, urllib.request\n"
         "req = urllib.request.Request('https://api.openai.com/v1/chat/completions',\n"
         "    data=json.dumps({'model': 'gpt-4o-mini', 'messages': [{'role': 'user', 'content': 'hello'}]}).encode(),\n"
         "    headers={'Authorization': 'Bearer ' + os.environ['OPENAI_API_KEY'], 'Content-Type': 'application/json'})\n"
         "print(json.load(urllib.request.urlopen(req))['choices'][0]['message']['content'])\n")


def clean_env():
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("HC_") and k != "LD_PRELOAD" and not k.endswith("_API_KEY")}
    e["HC_LIB"] = SHIM
    return e


def report(db, *args):
    r = subprocess.run([ANALYZE, "report", "--db", db, "--json"] + list(args), capture_output=True, text=True,
                       env=clean_env())
    return json.loads(r.stdout) if r.returncode == 0 else {}


def main():
    t = TAP()
    d = tempfile.mkdtemp(prefix="hctest-mock-")
    try:
        db = os.path.join(d, "store")
        agent = os.path.join(d, "agent.py")
        with open(agent, "w") as f:
            f.write(AGENT)
        r = subprocess.run([HC_MOCK, "--db", db, "--", PYTHON, agent], capture_output=True, text=True,
                           env=clean_env(), timeout=60)
        t.ok(r.returncode == 0 and r.stdout.startswith("Mock answer"),
             "hc-mock -- python3 agent.py: the unmodified HTTPS program is answered, no key set", r.stderr)
        t.ok("report --db %s --run last" % db in r.stderr, "hc-mock says how to see the report", r.stderr)
        rep = report(db, "--run", "last")
        t.ok(rep.get("summary", {}).get("requests") == 1 and rep["summary"].get("tok_in", 0) >= 0,
             "the request is recorded in the given store", rep.get("summary"))

        r = subprocess.run([HC_MOCK, "--db", db, "--", "sh", "-c", "exit 3"], capture_output=True, text=True,
                           env=clean_env(), timeout=60)
        t.eq(r.returncode, 3, "hc-mock exits with the command's status")

        # Without a command: the hc-run line it prints works as printed.
        p = subprocess.Popen([HC_MOCK, "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=clean_env(), start_new_session=True)
        lines = [p.stdout.readline() for _ in range(4)]
        line = next((x.strip() for x in lines if "hc-run" in x and "--route" in x), "")
        t.ok(re.search(r"--route api\.openai\.com=http://127\.0\.0\.1:\d+", line), "prints an hc-run line with an "
             "HTTP route to the mock", lines)
        argv = shlex.split(line)
        argv = argv[:argv.index("--") + 1] + ["curl", "-sS", "https://api.openai.com/v1/chat/completions",
                                              "-H", "Authorization: Bearer k", "-d",
                                              '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}']
        r = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=60) if "--" in argv \
            else None
        t.ok(r is not None and r.returncode == 0 and "Mock answer" in r.stdout, "curl through the printed line",
             r.stderr if r else lines)
        os.killpg(p.pid, signal.SIGINT)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        t.ok(p.returncode is not None, "Ctrl-C stops it")
        rep = report(db)
        t.eq(rep.get("summary", {}).get("requests"), 2, "the store holds both calls (runs kept apart by run id)")

        for args, what in [(["--port", "x", "--", "true"], "--port"), (["--port", "70000", "--", "true"], "--port"),
                           (["--db", "", "--", "true"], "--db"), (["--bogus"], "unknown option")]:
            r = subprocess.run([HC_MOCK] + args, capture_output=True, text=True, env=clean_env(), timeout=30)
            t.ok(r.returncode == 2 and what in r.stderr and r.stderr.count("\n") == 1,
                 "misuse (%s): exit 2 with one line" % " ".join(args), r.stderr)
        r = subprocess.run([HC_MOCK, "--help"], capture_output=True, text=True, env=clean_env(), timeout=30)
        t.ok(r.returncode == 0 and "usage: hc-mock" in r.stdout, "--help to stdout")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
