#!/usr/bin/python3
"""The verification memo (common/store.c DESIGN) never vouches for a file
changed behind LMDB's back, with the app on the line.

A store written by hc_gen, then by curl and python3 under the shim (which
leave the memo current: verified.memo, 0600). Then data.mdb is changed in the
ways that keep its inode and that the memo's cheap comparison must not miss:
  - `cp` of a damaged copy over it (same inode, same size, same txnid);
  - truncated to its two meta pages and regrown to its size with zeros;
  - an older, damaged backup restored with `cp`;
  - a damaged file beside a memo copied from the sound one (same bytes as a
    sound memo, another file state).
For each: curl and python3 (urllib, with HC_CACHE=1: the store is read on
the request's path) under the shim exit and print exactly what they do
without the shim; the shim says once on stderr that the store is damaged;
`hc-analyze check` agrees it is damaged. With the sound file copied back,
the app records again (the record count grows).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ANALYZE, BUILD, PYTHON, TAP, World  # noqa: E402

GEN = os.path.join(BUILD, "tools", "hc_gen")
PSIZE = 4096
ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HC_")}
URL = "https://api.openai.com/v1/chat/completions"
BODY = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"memo"}]}'
CALL = r"""
import json, sys, urllib.request
url = sys.argv[1] if len(sys.argv) > 1 else "https://api.openai.com/v1/chat/completions"
req = urllib.request.Request(url,
    data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "memo py"}]}).encode(),
    headers={"Authorization": "Bearer sk-test-key", "Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=20) as r:
    print(r.status, r.read().decode())
"""


def curl_args(url, *extra):
    return ["curl", "-sS", "-H", "Authorization: Bearer sk-test", "-H", "Content-Type: application/json",
            "-d", BODY, url] + list(extra)


def check_rc(db):
    return subprocess.run([ANALYZE, "check", "--db", db], capture_output=True, text=True, env=ENV).returncode


def records(db):
    r = subprocess.run([ANALYZE, "stats", "--db", db, "--json"], capture_output=True, text=True, env=ENV)
    try:
        return json.loads(r.stdout)["records"]
    except (ValueError, KeyError):
        return None


def cp_over(src_bytes, path, tmp):
    """`cp FILE data.mdb`: the same inode, truncated and rewritten."""
    f = os.path.join(tmp, "copy.mdb")
    with open(f, "wb") as o:
        o.write(src_bytes)
    subprocess.run(["cp", f, path], check=True)
    os.unlink(f)


def damaged(b):
    """Every page past the two meta pages zeroed: only the full walk sees it."""
    return b[:2 * PSIZE] + bytes(len(b) - 2 * PSIZE)


def main():
    t = TAP()
    work = tempfile.mkdtemp(prefix="hc-memo-")
    try:
        db = os.path.join(work, "store")
        data = os.path.join(db, "data.mdb")
        memo = os.path.join(db, "verified.memo")
        subprocess.run([GEN, "--db", db, "--count", "400", "--seed", "3", "--with-bodies"], check=True,
                       stdout=subprocess.DEVNULL, env=ENV)
        with World(http_mock=False) as w:
            mock = w.mock
            base_env = dict(ENV, NO_PROXY="*", no_proxy="*")
            mock.reset()
            b_curl = subprocess.run(curl_args(mock.url + "/v1/chat/completions", "--cacert", w.pki["ca"]),
                                    capture_output=True, text=True, env=base_env)
            mock.reset()
            b_py = subprocess.run([PYTHON, "-c", CALL, mock.url + "/v1/chat/completions"], capture_output=True,
                                  text=True, env=dict(base_env, SSL_CERT_FILE=w.pki["ca"]))
            t.ok(b_curl.returncode == 0 and '"choices"' in b_curl.stdout and b_py.returncode == 0 and
                 "200 " in b_py.stdout, "baselines without the shim", b_curl.stderr + b_py.stderr)

            def apps(what, want_damaged):
                for name, argv, base_r in (("curl", curl_args(URL), b_curl), ("python3", [PYTHON, "-c", CALL], b_py)):
                    mock.reset()
                    r = w.run(argv, timeout=30, HC_DB=db, HC_CACHE=1)
                    told = [ln for ln in r.stderr.splitlines() if "damaged store" in ln]
                    t.ok((r.returncode, r.stdout) == (base_r.returncode, base_r.stdout),
                         "%s, %s: exit status and output equal the baseline" % (what, name),
                         "rc %d\n%s\n%s" % (r.returncode, r.stdout[-300:], r.stderr[-600:]))
                    if want_damaged:
                        t.ok(len(told) == 1 and db in told[0], "%s, %s: the shim says once that the store is "
                             "damaged" % (what, name), r.stderr[-600:])
                    else:
                        t.ok(not told, "%s, %s: no damage reported" % (what, name), r.stderr[-600:])

            apps("sound store", False)
            st = os.stat(memo) if os.path.exists(memo) else None
            t.ok(st is not None and (st.st_mode & 0o777) == 0o600, "the memo is written, 0600")
            with open(data, "rb") as f:
                older = f.read()
            apps("sound store, memo current", False)
            n_before = records(db)
            with open(data, "rb") as f:
                cur = f.read()
            ino = os.stat(data).st_ino
            with open(memo, "rb") as f:
                sound_memo = f.read()

            cases = [
                ("cp of a damaged copy (same inode, size, txnid)", lambda: cp_over(damaged(cur), data, work)),
                ("truncated to 2 pages and regrown to its size",
                 lambda: (os.truncate(data, 2 * PSIZE), os.truncate(data, len(cur)))),
                ("an older, damaged backup restored with cp", lambda: cp_over(damaged(older), data, work)),
            ]
            for what, do in cases:
                do()
                t.ok(os.stat(data).st_ino == ino, "%s: same inode" % what)
                t.eq(check_rc(db), 2, "%s: hc-analyze check says damaged" % what)
                apps(what, True)
                cp_over(cur, data, work)
            # A memo copied from the sound state, beside a damaged file.
            cp_over(damaged(cur), data, work)
            with open(memo, "wb") as f:
                f.write(sound_memo)
            apps("a damaged file beside the sound file's memo", True)
            cp_over(cur, data, work)
            apps("the sound file copied back", False)
            n_after = records(db)
            t.ok(n_before is not None and n_after is not None and n_after > n_before,
                 "the app records again (%s records, then %s)" % (n_before, n_after))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
