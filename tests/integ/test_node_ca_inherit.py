#!/usr/bin/python3
"""A Node program's own NODE_EXTRA_CA_CERTS survives the shim across generations.

In every Node/Bun process the shim points NODE_EXTRA_CA_CERTS at a file of its
own (the user's file plus the gateway CA), removed when that process exits.
A Node child started after its Node parent has exited inherits the parent's
(now removed) path: it must still trust the user's own CA, as it does without
the shim. The server here is not an LLM host: the app's TLS is its own.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import TAP, World  # noqa: E402

# The parent starts a detached grandchild that waits for the parent to be gone,
# then runs a second node that fetches from the server trusted by the user's CA.
PARENT = r"""
const { spawn } = require('child_process');
const child = `setTimeout(() => fetch(process.argv[1]).then(r => console.log('child status ' + r.status),
  e => console.log('child err ' + ((e.cause && e.cause.code) || e.message))), 0)`;
spawn('sh', ['-c', 'sleep 1; exec node -e "$0" "$1" > "$2" 2>&1', child, process.argv[1], process.argv[2]],
      { detached: true, stdio: 'ignore' }).unref();
"""


def run(w, env, out):
    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run(["node", "-e", PARENT, w.mock.url + "/health", out], env=env,
                       capture_output=True, text=True, timeout=60)
    for _ in range(200):
        if os.path.exists(out) and open(out).read().strip():
            break
        time.sleep(0.05)
    time.sleep(0.2)
    return r, (open(out).read().strip() if os.path.exists(out) else "")


def main():
    t = TAP()
    if not shutil.which("node"):
        t.ok(True, "# SKIP node is not installed")
        return t.done()
    with World() as w:
        d = tempfile.mkdtemp(prefix="hc-nodeca-", dir=w.dir)
        base_env = dict(w.env(), NODE_EXTRA_CA_CERTS=w.pki["ca"])
        base_env.pop("LD_PRELOAD")
        r0, base = run(w, base_env, os.path.join(d, "base.txt"))
        t.ok(base.startswith("child status"), "baseline: the grandchild trusts the user's CA", base)
        r1, got = run(w, dict(w.env(), NODE_EXTRA_CA_CERTS=w.pki["ca"]), os.path.join(d, "shim.txt"))
        t.eq(got, base, "under the shim: the grandchild started after its parent exited gets the same answer")
        t.eq(r1.returncode, r0.returncode, "the parent's exit status is unchanged")
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
