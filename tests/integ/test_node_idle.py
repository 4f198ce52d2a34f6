#!/usr/bin/python3
"""A Node/Bun process that never calls an LLM gets the CA, not a gateway (issue 20).

Node 20 reads NODE_EXTRA_CA_CERTS at start-up and Bun at its first TLS context
(with a raw system call), so the shim must hand them the gateway's CA before
main. Only the CA is made then: no gateway thread, no store, until the first
LLM connection, which adopts that CA (the call below must be trusted and
recorded). Each program is also run with HC_MODE=off (every hook passing
through) and without the shim, and its outcome compared.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hctest import ROOT, TAP, World  # noqa: E402

BUN = os.path.join(ROOT, "tests", "node", "node_modules", "@oven", "bun-linux-x64", "bin", "bun")

# Prints the CA variable, whether its file holds a certificate, and the
# process's thread count once start-up is over; with a URL, first posts one
# chat completion there and prints its status.
PROG = r"""
const fs = require('fs');
const url = process.argv[2];
async function main() {
  let status = null;
  if (url) {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json',
      authorization: 'Bearer sk-test' }, body: JSON.stringify({ model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello idle' }] }) });
    status = r.status;
    await r.text();
  }
  const p = process.env.NODE_EXTRA_CA_CERTS || '';
  let pem = false;
  try { pem = fs.readFileSync(p, 'utf8').includes('BEGIN CERTIFICATE'); } catch (e) {}
  await new Promise((res) => setTimeout(res, 100));
  console.log(JSON.stringify({ ca: p, pem, status, threads: fs.readdirSync('/proc/self/task').length }));
}
main().catch((e) => { console.log(JSON.stringify({ error: String((e.cause && e.cause.code) || e.message) })); });
"""


def parse(r):
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"stdout": r.stdout[-300:], "stderr": r.stderr[-300:]}


def check(t, w, name, runtime, prog):
    w.db = os.path.join(w.dir, "store-" + name)  # a store of its own: was it opened?
    base = w.env(NODE_EXTRA_CA_CERTS=None)
    base.pop("LD_PRELOAD")
    none = subprocess.run([runtime, prog], env=base, capture_output=True, text=True, timeout=60)
    off = w.run([runtime, prog], NODE_EXTRA_CA_CERTS=None, HC_MODE="off")
    idle = w.run([runtime, prog], NODE_EXTRA_CA_CERTS=None, HC_DEBUG=1)
    n, o, i = parse(none), parse(off), parse(idle)
    t.eq(idle.returncode, none.returncode, "%s, no LLM call: exit status as without the shim" % name)
    t.ok(os.path.basename(i.get("ca", "")).startswith("hcshim-ca-") and i.get("pem") is True,
         "%s, no LLM call: NODE_EXTRA_CA_CERTS names the shim's CA file, which holds a certificate" % name, i)
    t.ok("threads" in i and i.get("threads") == o.get("threads") == n.get("threads"),
         "%s, no LLM call: no gateway thread (as many threads as with HC_MODE=off and without the shim)" % name,
         (n, o, i))
    t.ok("gateway started" not in idle.stderr, "%s, no LLM call: the gateway was not started" % name,
         idle.stderr[-300:])
    t.ok(not os.path.exists(os.path.join(w.db, "data.mdb")), "%s, no LLM call: the store was not opened" % name)

    url = "https://api.openai.com/v1/chat/completions"
    before = len(w.records())
    call = w.run([runtime, prog, url], NODE_EXTRA_CA_CERTS=None, HC_DEBUG=1)
    c = parse(call)
    t.eq(c.get("status"), 200, "%s, one LLM call: the gateway's certificate is trusted (status 200)" % name)
    t.ok("threads" in c and c["threads"] > i.get("threads", 0) and "gateway started" in call.stderr,
         "%s, one LLM call: the gateway started then (said with HC_DEBUG=1; more threads than idle)" % name,
         (i, c, call.stderr[-300:]))
    t.eq(len(w.records(wait_for=before + 1)) - before, 1, "%s, one LLM call: recorded" % name)


def main():
    t = TAP()
    runtimes = [(n, p) for n, p in (("node", shutil.which("node")), ("bun", BUN)) if p and os.access(p, os.X_OK)]
    if not runtimes:
        t.ok(True, "# SKIP neither node nor bun is installed")
        return t.done()
    with World() as w:
        prog = os.path.join(w.dir, "idle.js")
        with open(prog, "w") as f:
            f.write(PROG)
        for name, path in runtimes:
            check(t, w, name, path, prog)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
