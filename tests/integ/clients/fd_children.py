"""An app that runs programs after an LLM call: what do its children inherit?

usage: fd_children.py BASE_URL WORKDIR [VFORK_SO]

One call, then `ls -l /proc/self/fd` through subprocess.run (close_fds,
the vfork path), os.popen and os.system; with VFORK_SO (a library exporting
vfork_dup2(lo, hi): a vfork child dup2's /dev/null onto lo..hi-1 and
_exits), that child, then two more calls. Prints one JSON line: the calls
that succeeded, errors, and each child's listing.
"""
import ctypes
import json
import os
import subprocess
import sys
import urllib.request

base, workdir = sys.argv[1], sys.argv[2]
so = sys.argv[3] if len(sys.argv) > 3 else ""
out = {"ok": 0, "errors": []}


def call(i):
    body = json.dumps({"model": "gpt-4o-mini",
                       "messages": [{"role": "user", "content": "children %d" % i}]}).encode()
    req = urllib.request.Request(base + "/chat/completions", data=body, headers={
        "Authorization": "Bearer sk-test-children-0123456789", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            json.loads(r.read())
            out["ok"] += 1
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        out["errors"].append("%s: %s" % (type(e).__name__, e))


call(0)
out["subprocess"] = subprocess.run(["ls", "-l", "/proc/self/fd/"], capture_output=True, text=True).stdout
with os.popen("ls -l /proc/self/fd/") as p:
    out["popen"] = p.read()
listing = os.path.join(workdir, "system.txt")
os.system("ls -l /proc/self/fd/ > %s" % listing)
with open(listing) as f:
    out["system"] = f.read()
if so:
    out["vfork"] = ctypes.CDLL(so).vfork_dup2(3, 64)
    call(1)
    call(2)
print(json.dumps(out), flush=True)
