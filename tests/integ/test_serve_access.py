#!/usr/bin/python3
"""`hc-analyze serve` serves only its own user (issue 14, items 5 and 8).

- Every prompt is behind /api/request/ID: a connection from another local
  uid (curl and Python run as `nobody` with setpriv) gets 403 and no byte of
  the store, on 127.0.0.1 and on [::1]; the user who started serve gets
  200 on the same URLs. Without the shim's fix, `nobody` read everything.
- 70 idle connections (more than the server's 64 slots) no longer lock the
  server out for its 60 s idle timeout: a request right after them is
  answered (within a 20 s client timeout).
"""
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, BUILD, TAP  # noqa: E402

GEN = os.path.join(BUILD, "tools", "hc_gen")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def start(db, bind):
    p = subprocess.Popen([ANALYZE, "serve", "--port", "0", "--bind", bind, "--db", db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    r, _, _ = select.select([p.stdout], [], [], 10)
    line = p.stdout.readline() if r else ""
    m = re.match(r"serving on (http://\S+/)$", line.strip())
    return p, (m.group(1) if m else None)


def as_nobody_curl(url):
    r = subprocess.run(NOBODY + ["curl", "-sS", "-w", "\n%{http_code}", url], capture_output=True, text=True, timeout=30)
    body, _, code = r.stdout.rpartition("\n")
    return code, body


def as_nobody_python(url):
    code = ("import urllib.request, urllib.error, sys\n"
            "try:\n"
            "    r = urllib.request.urlopen(sys.argv[1], timeout=20); print(r.status); print(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code); print(e.read().decode())\n")
    r = subprocess.run(NOBODY + ["/usr/bin/python3", "-c", code, url], capture_output=True, text=True, timeout=30,
                       cwd="/")
    first, _, rest = r.stdout.partition("\n")
    return first.strip(), rest


def main():
    t = TAP()
    tmp = tempfile.mkdtemp(prefix="hc-serve-")
    os.chmod(tmp, 0o755)  # the store below stays 0700: only the listener is shared
    db = os.path.join(tmp, "store")
    try:
        subprocess.run([GEN, "--db", db, "--count", "30", "--seed", "3", "--with-bodies"], check=True,
                       capture_output=True, timeout=60)
        have_setpriv = shutil.which("setpriv") and os.geteuid() == 0
        for bind in ("127.0.0.1", "::1"):
            p, url = start(db, bind)
            if not t.ok(url, "serve --bind %s prints its URL" % bind):
                p.kill()
                continue
            try:
                with urllib.request.urlopen(url + "api/requests?limit=1", timeout=20) as r:
                    rid = json.loads(r.read())["requests"][0]["id"]
                    t.eq(r.status, 200, "%s: the user who started serve gets 200" % bind)
                with urllib.request.urlopen(url + "api/request/" + rid, timeout=20) as r:
                    mine = r.read().decode()
                    t.ok(r.status == 200 and rid in mine, "%s: ... and the record with its prompt" % bind)
                if have_setpriv:
                    code, body = as_nobody_curl(url + "api/request/" + rid)
                    t.ok(code == "403" and rid not in body, "%s: another uid (curl as nobody): 403, nothing of the record"
                         % bind, (code, body[:200]))
                    code, body = as_nobody_python(url + "api/requests?limit=0")
                    t.ok(code == "403" and rid not in body, "%s: another uid (python as nobody): 403" % bind,
                         (code, body[:200]))
                    code, body = as_nobody_curl(url)
                    t.eq(code, "403", "%s: another uid: the page itself is refused too" % bind)
                else:
                    t.diag("not root or no setpriv: other-uid checks skipped")
                with urllib.request.urlopen(url + "api/summary", timeout=20) as r:
                    t.eq(r.status, 200, "%s: the owner is still served after the refusals" % bind)
            finally:
                p.terminate()
                t.eq(p.wait(timeout=10), 0, "%s: serve exits 0 on SIGTERM" % bind)

        p, url = start(db, "127.0.0.1")
        port = int(url.rsplit(":", 1)[1].strip("/"))
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(70)]
        try:
            with urllib.request.urlopen(url + "api/summary", timeout=20) as r:
                t.eq(r.status, 200, "70 idle connections: a new request is still answered")
        except Exception as e:  # noqa: BLE001
            t.ok(False, "70 idle connections: a new request is still answered", e)
        finally:
            for s in idle:
                s.close()
            p.terminate()
            p.wait(timeout=10)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
