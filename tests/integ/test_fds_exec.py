#!/usr/bin/python3
"""The app's descriptors and process image stay the app's (issue 14, items 3-4).

- Descriptor sweeps: an app makes LLM calls, then closes every descriptor
  from 3 up (os.closerange → close_range, closefrom, the raw close_range
  system call that no hook sees, dup2 of one file onto 3..63), then opens
  and writes 40 files and makes more calls. Without the shim its files hold
  exactly what it wrote and every call succeeds; under the shim they must
  too: no LMDB page, prompt or TLS byte in an app file, no app descriptor
  closed behind its back, and the later calls succeed and are recorded.
  Through a hook the shim's descriptors stay open; through the raw system
  call (or dup2 over them) the shim notices by identity before it writes:
  the store is opened again and the gateway listens on a new socket.
  rawpending: the raw close while a call is in flight (a slow answer), so
  the shim's exchange ends after it and the store is opened again on the
  lowest free numbers, the gateway listener's old ones: the core still tells
  that its listener is gone (each holder checks its own identity, not the
  number's last owner), and the later calls succeed and are recorded.
- Children: after a call, `ls -l /proc/self/fd` run through subprocess.run
  (close_fds, the vfork path), os.popen and os.system sees no descriptor of
  the shim (store files, sockets): they are close-on-exec, and the vfork
  child's close_fds is not stopped by the parent's ownership table. A vfork
  child dup2'ing onto the shim's numbers leaves the parent's calls and
  records working.
- exec and quick_exit: N calls then os.execv (once, or a chain of 10 images
  of 2 calls each), or libc quick_exit(), and all N records are in the store; a bash `exec` chain of curl calls keeps all of
  its records; Bun (which leaves through quick_exit) keeps the last record.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import CLIENTS, PYTHON, ROOT, TAP, World  # noqa: E402

SWEEP = os.path.join(CLIENTS, "fd_sweep.py")
CHILDREN = os.path.join(CLIENTS, "fd_children.py")
BUN = os.path.join(ROOT, "tests", "node", "node_modules", "@oven", "bun-linux-x64", "bin", "bun")


def outcome(r):
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return {"ok": -1, "errors": ["no outcome: rc=%d %s" % (r.returncode, r.stderr[-400:])], "files_ok": False}


def baseline(w, mode, n_before, n_after):
    """The same app without the shim, straight at the mock."""
    wd = tempfile.mkdtemp(dir=w.dir)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
    env["SSL_CERT_FILE"] = w.pki["ca"]
    r = subprocess.run([PYTHON, SWEEP, mode, w.mock.url + "/v1", str(n_before), str(n_after), wd],
                       env=env, capture_output=True, text=True, timeout=120)
    return outcome(r)


def shimmed(w, mode, n_before, n_after, then=""):
    wd = tempfile.mkdtemp(dir=w.dir)
    w.reset_store()
    r = w.run([PYTHON, SWEEP, mode, "https://api.openai.com/v1", n_before, n_after, wd] + ([then] if then else []),
              timeout=120)
    return r, outcome(r), wd


def no_store_bytes_in(wd):
    """No file the app wrote holds a prompt, an LMDB page or TLS bytes."""
    for name in os.listdir(wd):
        with open(os.path.join(wd, name), "rb") as f:
            data = f.read()
        if b"secret-prompt" in data or b"\x16\x03" in data or b"\x17\x03\x03" in data:
            return name
    return None


def main():
    t = TAP()
    with World() as w:
        # -- descriptor sweeps ------------------------------------------------
        for mode in ("closerange", "closefrom"):
            base = baseline(w, mode, 3, 3)
            t.ok(base["ok"] == 6 and base["files_ok"], "baseline %s: 6 calls, files intact" % mode, base)
            r, got, wd = shimmed(w, mode, 3, 3)
            t.ok(got["files_ok"], "%s under the shim: every app file holds exactly what the app wrote" % mode, got)
            t.eq(got["ok"], base["ok"], "%s under the shim: the calls after the sweep succeed as without it" % mode)
            t.ok(no_store_bytes_in(wd) is None, "%s: no prompt, page or TLS byte in the app's files" % mode)
            t.eq(len(w.records(wait_for=6)), 6, "%s: all 6 calls recorded" % mode)
        for mode in ("raw", "dup2"):
            base = baseline(w, mode, 3, 3)
            r, got, wd = shimmed(w, mode, 3, 3)
            t.ok(got["files_ok"] and base["files_ok"],
                 "%s close of the shim's descriptors: every app file holds exactly what the app wrote" % mode,
                 (got, base, r.stderr[-800:]))
            t.ok(no_store_bytes_in(wd) is None, "%s: no prompt, page or TLS byte in the app's files" % mode)
            t.eq(r.returncode, 0, "%s: the app exits 0" % mode)
            t.eq(got["ok"], base["ok"], "%s: the calls after it succeed as without the shim (new listener)" % mode)
            t.eq(len(w.records(wait_for=6)), 6, "%s: all 6 calls recorded (the store opened again)" % mode)
            check = w.analyze("requests", "--json", "--limit", "0", check=False)
            t.eq(check.returncode, 0, "%s: the store still reads" % mode)

        w.mock.configure(latency_ms=400)
        try:
            r, got, wd = shimmed(w, "rawpending", 3, 3)
        finally:
            w.mock.configure(latency_ms=0)
        t.ok(got["files_ok"], "rawpending: every app file holds exactly what the app wrote", (got, r.stderr[-800:]))
        t.eq(got["ok"], 6, "rawpending: the 6 calls around it succeed (%s; %s)" % (got["errors"], r.stderr[-400:]))
        t.ok(len(w.records(wait_for=6)) >= 6, "rawpending: the 6 calls recorded (the store opened again)")

        # -- what children inherit ------------------------------------------
        so = ""
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc:
            so = os.path.join(w.dir, "vfork_dup2.so")
            r = subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", so, os.path.join(CLIENTS, "vfork_dup2.c")],
                               capture_output=True, text=True)
            if not t.ok(r.returncode == 0, "compile vfork_dup2.c", r.stderr[-500:]):
                so = ""
        else:
            t.diag("no C compiler: vfork dup2 case skipped")
        w.reset_store()
        wd = tempfile.mkdtemp(dir=w.dir)
        r = w.run([PYTHON, CHILDREN, "https://api.openai.com/v1", wd] + ([so] if so else []), timeout=120)
        got = outcome(r)
        for how in ("subprocess", "popen", "system"):
            lst = got.get(how)
            t.ok(lst is not None and "data.mdb" not in lst and "lock.mdb" not in lst and "socket:" not in lst,
                 "%s child: no store file or socket of the shim among its descriptors" % how, (lst, r.stderr[-400:]))
        if so:
            t.eq(got.get("vfork"), 0, "vfork child dup2'ing onto the shim's numbers exits 0")
            t.eq(got["ok"], 3, "after the vfork child's dup2: the parent's calls succeed (%s)" % got["errors"])
            t.eq(len(w.records(wait_for=3, timeout=5)), 3, "after the vfork child's dup2: all 3 calls recorded")
            t.ok("the app took" not in r.stderr and "opened again" not in r.stderr,
                 "the vfork child's dup2 does not make the parent abandon its listener or store", r.stderr[-600:])
        else:
            t.eq(got["ok"], 1, "the call succeeds")

        # -- exec and quick_exit -------------------------------------------------
        for then, n, total in (("exec", 20, 20), ("exec:9", 2, 20), ("quick_exit", 20, 20)):
            r, got, _ = shimmed(w, "none", n, 0, then)
            t.eq(got["ok"], n, "%s: %d calls succeed" % (then, n))
            if then.startswith("exec"):
                t.ok("exec ok" in r.stdout, "%s: the last image runs" % then, r.stdout + r.stderr)
            t.eq(len(w.records(wait_for=total, timeout=5)), total,
                 "%s right after the calls: %d records of %d calls" % (then, total, total))

        w.reset_store()
        url = "https://api.openai.com/v1/chat/completions"
        body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"exec chain"}]}'
        one = "curl -sS -o /dev/null %s -H 'Authorization: Bearer sk-test-x' -H 'Content-Type: application/json' -d '%s'" % (url, body)
        chain = one + "; " + one + "; exec bash -c " + json.dumps(one + "; " + one + "; exec bash -c " + json.dumps(one + "; exec " + one))
        r = w.run(["bash", "-c", chain], timeout=120)
        t.eq(r.returncode, 0, "bash exec chain: exits 0 (%s)" % r.stderr[-200:])
        t.eq(len(w.records(wait_for=6, timeout=5)), 6, "bash exec chain of 6 curl calls: 6 records")

        if os.path.exists(BUN):
            w.reset_store()
            js = ("const u='https://api.openai.com/v1/chat/completions';"
                  "const o={method:'POST',headers:{'Authorization':'Bearer sk-test-bun','Content-Type':'application/json'},"
                  "body:JSON.stringify({model:'gpt-4o-mini',messages:[{role:'user',content:'bun'}]})};"
                  "for (let i=0;i<2;i++){const r=await fetch(u,o); await r.json();} console.log('bun ok');")
            script = os.path.join(w.dir, "b.mjs")
            with open(script, "w") as f:
                f.write(js)
            ok = 0
            for _ in range(10):
                r = w.run([BUN, script], timeout=60)
                ok += "bun ok" in r.stdout
            recs = w.records(wait_for=2 * ok, timeout=5)
            t.ok(ok > 0, "bun: the runs succeed (%d of 10)" % ok, r.stderr[-400:])
            t.eq(len(recs), 2 * ok, "bun (leaves through quick_exit): 2 records per run")
        else:
            t.diag("bun not installed (tests/node/node_modules): bun case skipped")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
